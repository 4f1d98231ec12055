#include "dsgd_kernels_cpu.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

// The feature bits both variants need, and whether the OS saves the YMM state.
static int runs_avx2(unsigned int *leaf7_ebx) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned int fma = 1u << 12, movbe = 1u << 22, popcnt = 1u << 23, osxsave = 1u << 27,
                       avx = 1u << 28, f16c = 1u << 29;
    if ((c & (fma | movbe | popcnt | osxsave | avx | f16c)) != (fma | movbe | popcnt | osxsave | avx | f16c)) return 0;
    if ((read_xcr0() & 0x6) != 0x6) return 0;   // XMM and YMM state
    unsigned int max = __get_cpuid_max(0, 0);
    if (max < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned int bmi1 = 1u << 3, avx2 = 1u << 5, bmi2 = 1u << 8;
    if ((b & (bmi1 | avx2 | bmi2)) != (bmi1 | avx2 | bmi2)) return 0;
    unsigned int leaf7 = b;
    if (!__get_cpuid(0x80000001, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 5))) return 0;             // LZCNT (ABM)
    *leaf7_ebx = leaf7;
    return 1;
}

int dsgd_kernels_cpu_runs_avx2(void) {
    unsigned int leaf7_ebx;
    return runs_avx2(&leaf7_ebx);
}

int dsgd_kernels_cpu_runs_avx512(void) {
    unsigned int b;
    if (!runs_avx2(&b)) return 0;
    const unsigned int f = 1u << 16, dq = 1u << 17, cd = 1u << 28, bw = 1u << 30, vl = 1u << 31;
    if ((b & (f | dq | cd | bw | vl)) != (f | dq | cd | bw | vl)) return 0;
    return (read_xcr0() & 0xE6) == 0xE6;        // XMM, YMM, opmask, ZMM0-15 upper halves, ZMM16-31
}

void dsgd_kernels_cpu_model(char *out, size_t size) {
    if (size == 0) return;
    out[0] = 0;
    unsigned int regs[12];
    if (__get_cpuid_max(0x80000000, 0) < 0x80000004) return;
    for (unsigned int i = 0; i < 3; i++) {
        __cpuid(0x80000002 + i, regs[4 * i], regs[4 * i + 1], regs[4 * i + 2], regs[4 * i + 3]);
    }
    char brand[49];
    memcpy(brand, regs, 48);
    brand[48] = 0;
    const char *s = brand;
    while (*s == ' ') s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ') n--;
    if (n >= size) n = size - 1;
    memcpy(out, s, n);
    out[n] = 0;
}

#else

int dsgd_kernels_cpu_runs_avx2(void) { return 0; }
int dsgd_kernels_cpu_runs_avx512(void) { return 0; }
void dsgd_kernels_cpu_model(char *out, size_t size) {
    if (size > 0) out[0] = 0;
}

#endif
