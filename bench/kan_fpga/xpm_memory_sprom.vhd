-- SPDX-License-Identifier: MIT
-- A behavioural stand-in for Xilinx's xpm_memory_sprom (single-port ROM): the generics and
-- ports the KAN-FPGA generator uses; contents read from MEMORY_INIT_FILE (one hex word per
-- line, address 0 first) at elaboration; READ_LATENCY_A 0 (asynchronous) or 1 (registered;
-- no other latency is modelled: bench/vs_kan_fpga.py refuses designs that ask for one).
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use std.textio.all;
use ieee.std_logic_textio.all;

entity xpm_memory_sprom is
  generic (
    ADDR_WIDTH_A : integer := 6; AUTO_SLEEP_TIME : integer := 0;
    MEMORY_INIT_FILE : string := "none"; MEMORY_INIT_PARAM : string := "";
    MEMORY_OPTIMIZATION : string := "true"; MEMORY_PRIMITIVE : string := "auto";
    MEMORY_SIZE : integer := 2048; READ_DATA_WIDTH_A : integer := 32;
    READ_LATENCY_A : integer := 2; READ_RESET_VALUE_A : string := "0";
    USE_MEM_INIT : integer := 1);
  port (
    addra : in std_logic_vector(ADDR_WIDTH_A-1 downto 0); clka : in std_logic;
    ena : in std_logic; regcea : in std_logic; rsta : in std_logic; sleep : in std_logic;
    injectdbiterra : in std_logic; injectsbiterra : in std_logic;
    dbiterra : out std_logic; sbiterra : out std_logic;
    douta : out std_logic_vector(READ_DATA_WIDTH_A-1 downto 0));
end entity;

architecture behavioural of xpm_memory_sprom is
  type rom_t is array (0 to 2**ADDR_WIDTH_A-1) of std_logic_vector(READ_DATA_WIDTH_A-1 downto 0);
  impure function load return rom_t is
    file f : text open read_mode is MEMORY_INIT_FILE;
    variable l : line;
    variable word : std_logic_vector(READ_DATA_WIDTH_A-1 downto 0);
    variable rom : rom_t := (others => (others => '0'));
  begin
    for a in rom_t'range loop
      exit when endfile(f);
      readline(f, l);
      hread(l, word);
      rom(a) := word;
    end loop;
    return rom;
  end function;
  constant ROM : rom_t := load;
begin
  dbiterra <= '0';
  sbiterra <= '0';
  async : if READ_LATENCY_A = 0 generate
    douta <= ROM(to_integer(unsigned(addra)));
  end generate;
  sync : if READ_LATENCY_A = 1 generate
    process (clka) begin
      if rising_edge(clka) then
        if ena = '1' then douta <= ROM(to_integer(unsigned(addra))); end if;
      end if;
    end process;
  end generate;
end architecture;
