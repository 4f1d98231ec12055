#ifndef DSGD_KERNELS_CPU_H
#define DSGD_KERNELS_CPU_H
#include <stddef.h>

/// 1 if this CPU and operating system can run code compiled with `-target-cpu haswell`: AVX, AVX2,
/// FMA, F16C, BMI1, BMI2, LZCNT, MOVBE and POPCNT, with the OS saving the YMM state (XGETBV);
/// 0 otherwise and on other architectures.
int dsgd_kernels_cpu_runs_avx2(void);

/// 1 if this CPU and operating system can run code compiled with `-target-cpu skylake-avx512`:
/// everything `dsgd_kernels_cpu_runs_avx2` asks for plus AVX-512 F, CD, BW, DQ and VL, with the OS
/// saving the opmask and full ZMM state (XGETBV bits 5-7); 0 otherwise and on other architectures.
int dsgd_kernels_cpu_runs_avx512(void);

/// Writes the processor's brand string (CPUID 0x80000002-4, leading spaces dropped) into `out`
/// (`size` bytes, NUL-terminated); an empty string where there is none (other architectures).
void dsgd_kernels_cpu_model(char *out, size_t size);

#endif
