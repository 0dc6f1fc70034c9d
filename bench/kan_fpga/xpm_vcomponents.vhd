-- SPDX-License-Identifier: MIT
-- The component declaration of xpm_memory_sprom.vhd (library xpm), as Xilinx's vcomponents
-- package declares it for instantiation.
library ieee;
use ieee.std_logic_1164.all;
package vcomponents is
  component xpm_memory_sprom is
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
  end component;
end package;
