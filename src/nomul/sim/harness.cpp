// SPDX-License-Identifier: MIT
// nomul's compiled Verilator harness: stream a vector file through a top, no Python per cycle.
//
// The top is any nomul stream component (ports clk, rst, i__payload/valid/ready,
// o__payload/valid/ready), verilated with --prefix Vtop. Usage:
//
//   harness IN OUT COUNT [--idle P] [--stall P] [--seed S] [--max-cycles M] [--vcd FILE]
//
// IN holds one input word per line in hexadecimal. The harness offers them in order (after an
// idle cycle with probability P), drains outputs (holding o__ready low with probability P) until
// COUNT results arrived, and writes OUT: a line "i CYCLE" for every input transfer, "o CYCLE HEX"
// for every output transfer, and a last line "cycles N seconds S". Cycles are counted as in
// nomul.sim.cocotb_stream: the first rising edge after reset is cycle 1 and a transfer belongs to
// the edge on which valid and ready were both high.

#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "Vtop.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

// Verilator escapes the "__" of Amaranth's port names as "___05F".
#define I_PAYLOAD i___05Fpayload
#define I_VALID i___05Fvalid
#define I_READY i___05Fready
#define O_PAYLOAD o___05Fpayload
#define O_VALID o___05Fvalid
#define O_READY o___05Fready

namespace {

using Word = std::vector<uint32_t>;  // little-endian 32-bit limbs

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "harness: %s\n", message.c_str());
    std::exit(2);
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

Word parse_hex(const std::string& text, size_t line) {
    Word word((text.size() + 7) / 8, 0);
    size_t position = 0;
    for (auto it = text.rbegin(); it != text.rend(); ++it, ++position) {
        int digit = hex_digit(*it);
        if (digit < 0) fail("line " + std::to_string(line) + " of the input is not hexadecimal");
        word[position / 8] |= uint32_t(digit) << (4 * (position % 8));
    }
    if (word.empty()) word.push_back(0);
    return word;
}

// Ports up to 64 bits are plain integers; wider ones are VlWide<N> (32-bit limbs).
template <typename T>
void set_port(T& port, const Word& word) {
    uint64_t value = word[0];
    if (word.size() > 1) value |= uint64_t(word[1]) << 32;
    port = static_cast<T>(value);
}

template <std::size_t N>
void set_port(VlWide<N>& port, const Word& word) {
    for (std::size_t i = 0; i < N; ++i) port[i] = i < word.size() ? word[i] : 0;
}

template <typename T>
std::string hex_of(const T& port) {
    char text[24];
    std::snprintf(text, sizeof text, "%llx", static_cast<unsigned long long>(port));
    return text;
}

template <std::size_t N>
std::string hex_of(const VlWide<N>& port) {
    std::string text;
    char limb[12];
    for (std::size_t i = N; i-- > 0;) {
        if (text.empty()) {
            if (port[i] == 0 && i > 0) continue;
            std::snprintf(limb, sizeof limb, "%x", port[i]);
        } else {
            std::snprintf(limb, sizeof limb, "%08x", port[i]);
        }
        text += limb;
    }
    return text;
}

// xorshift64*: a Bernoulli draw per cycle for idle and stall, reproducible from the seed.
struct Random {
    uint64_t state;
    explicit Random(uint64_t seed) : state(seed * 2685821657736338717ull + 1) {}
    double uniform() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return double((state * 2685821657736338717ull) >> 11) / double(1ull << 53);
    }
    bool draw(double probability) { return probability > 0 && uniform() < probability; }
};

std::vector<Word> read_inputs(const char* path) {
    std::ifstream in(path);
    if (!in) fail(std::string("cannot read ") + path);
    std::vector<Word> words;
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) words.push_back(parse_hex(line, number));
    }
    return words;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) fail("usage: harness IN OUT COUNT [--idle P] [--stall P] [--seed S] "
                       "[--max-cycles M] [--vcd FILE]");
    const char* out_path = argv[2];
    const long count = std::atol(argv[3]);
    double idle = 0, stall = 0;
    uint64_t seed = 0;
    long max_cycles = -1;
    const char* vcd_path = nullptr;
    for (int a = 4; a + 1 < argc; a += 2) {
        if (!std::strcmp(argv[a], "--idle")) idle = std::atof(argv[a + 1]);
        else if (!std::strcmp(argv[a], "--stall")) stall = std::atof(argv[a + 1]);
        else if (!std::strcmp(argv[a], "--seed")) seed = std::strtoull(argv[a + 1], nullptr, 10);
        else if (!std::strcmp(argv[a], "--max-cycles")) max_cycles = std::atol(argv[a + 1]);
        else if (!std::strcmp(argv[a], "--vcd")) vcd_path = argv[a + 1];
        else fail(std::string("unknown option ") + argv[a]);
    }
    const std::vector<Word> inputs = read_inputs(argv[1]);
    if (max_cycles < 0) max_cycles = 1000 + 1000 * long(inputs.size() + count);

    auto context = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vtop>(context.get());
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> trace;
    if (vcd_path) {
        context->traceEverOn(true);
        trace = std::make_unique<VerilatedVcdC>();
        top->trace(trace.get(), 99);
        trace->open(vcd_path);
    }
#else
    if (vcd_path) fail("this harness was built without --trace; cannot write a VCD");
#endif
    uint64_t time = 0;
    auto half_cycle = [&](int clk) {
        top->clk = clk;
        top->eval();
#if VM_TRACE
        if (trace) trace->dump(time);
#endif
        time += 5;
    };

    top->rst = 1;
    top->I_VALID = 0;
    top->O_READY = 0;
    for (int i = 0; i < 3; ++i) { half_cycle(0); half_cycle(1); }
    top->rst = 0;

    std::FILE* out = std::fopen(out_path, "w");
    if (!out) fail(std::string("cannot write ") + out_path);
    Random random(seed);
    const std::clock_t start = std::clock();               // CPU time: the machine is shared
    long cycle = 0, received = 0;
    size_t position = 0;
    bool offering = false;
    while (received < count && cycle < max_cycles) {
        if (!offering && position < inputs.size() && !random.draw(idle)) {
            set_port(top->I_PAYLOAD, inputs[position]);
            offering = true;
        }
        top->I_VALID = offering;
        const bool ready = !random.draw(stall);
        top->O_READY = ready;
        half_cycle(0);                                   // this cycle's handshake, settled
        const bool taken = offering && top->I_READY;
        const bool result = ready && top->O_VALID;
        std::string payload;
        if (result) payload = hex_of(top->O_PAYLOAD);
        half_cycle(1);                                   // the transfers happen on this edge
        ++cycle;
        if (taken) {
            std::fprintf(out, "i %ld\n", cycle);
            ++position;
            offering = false;
        }
        if (result) {
            std::fprintf(out, "o %ld %s\n", cycle, payload.c_str());
            ++received;
        }
    }
    const double seconds = double(std::clock() - start) / CLOCKS_PER_SEC;
    std::fprintf(out, "cycles %ld seconds %.9f\n", cycle, seconds);
    std::fclose(out);
#if VM_TRACE
    if (trace) trace->close();
#endif
    top->final();
    return received < count ? 3 : 0;
}
