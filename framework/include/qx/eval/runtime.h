#pragma once
// Process-wide execution settings, chosen once per command.
#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace qx {

// 0 means all cores. Debian's LibTorch starts with a single intra-op thread otherwise.
int configure_threads(std::int64_t requested);

// Keeps freed tensor buffers in the heap. glibc's defaults hand every allocation above 128 KiB
// to mmap and give freed memory back to the kernel, so each training step page-faults its
// activations (several MiB each) in afresh until the adaptive threshold catches up.
void configure_allocator();

// The CPU as results depend on it: model name, cores, and the vector ISA flags that decide which
// kernels oneDNN runs ("AMD EPYC, 2 cores, avx2 fma; no avx512f avx512_vnni avx_vnni amx_tile").
// Integer kernels saturate differently with and without VNNI, so every experiment records it.
std::string describe_machine();

// "cpu", "cuda" or "cuda:N"; fails in one line when CUDA is asked for and absent. On CUDA it
// also pins cuDNN to deterministic algorithms without autotuning, so that a rerun on the same
// GPU repeats the result: the CPU path is deterministic already.
torch::Device parse_device(const std::string& name);

}  // namespace qx
