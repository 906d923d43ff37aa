// Compilation of the fused plan's hot code (plan_steps.cc and the headers it inlines).
//
// The step loop and everything it inlines are compiled three times (baseline x86-64, x86-64-v3
// AVX2 + FMA, x86-64-v4 AVX-512) with GCC target_clones and dispatched once at load time.
#pragma once

// Per-ISA versions by feature level (not by CPU model: arch=haswell would only match Haswells).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__ELF__) && \
    !defined(BLASNET_NO_CLONES)
#define BN_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__) && !defined(BLASNET_NO_CLONES)
#define BN_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define BN_CLONES
#endif
// GCC contracts a*b+c into FMA by default (-ffp-contract=fast, -std=c++17 included): the
// polynomials and optimizer loops use it in the x86-64-v3/v4 versions; the baseline one has none.
#define BN_INLINE inline __attribute__((always_inline))
