// The C++ twin of lib/core/rng.ts: xoshiro128** (Blackman & Vigna) seeded by four rounds of
// splitmix32. Bit-identical to the TypeScript generator: same seeding, same stream, same uniform().
// Keep the two in step (test/native-boundary.test.ts compares them through the addon's rngFill).
#pragma once
#include <cmath>
#include <cstdint>

namespace blasnet {

class Rng {
 public:
  explicit Rng(uint32_t seed = 0) { Reseed(seed); }

  // The TypeScript seed mapping, (Math.trunc(seed) | 0) >>> 0, for a finite double: its integer
  // part modulo 2^32.
  static uint32_t SeedFromNumber(double seed) {
    double t = std::fmod(std::trunc(seed), 4294967296.0);
    if (t < 0) t += 4294967296.0;
    return uint32_t(t);
  }

  void Reseed(uint32_t seed) {
    uint32_t x = seed;
    auto next = [&x]() -> uint32_t {
      x += 0x9e3779b9u;
      uint32_t z = x;
      z = (z ^ (z >> 16)) * 0x85ebca6bu;
      z = (z ^ (z >> 13)) * 0xc2b2ae35u;
      return z ^ (z >> 16);
    };
    s_[0] = next();
    s_[1] = next();
    s_[2] = next();
    s_[3] = next();
  }

  // State as in Rng.getState() / setState(): [s0, s1, s2, s3], not all zero.
  void GetState(uint32_t out[4]) const {
    for (int i = 0; i < 4; i++) out[i] = s_[i];
  }
  void SetState(const uint32_t in[4]) {
    for (int i = 0; i < 4; i++) s_[i] = in[i];
  }

  uint32_t NextUint32() {
    const uint32_t result = Rotl(s_[1] * 5u, 7) * 9u;
    const uint32_t t = s_[1] << 9;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 11);
    return result;
  }

  // Uniform in [0, 1) with 24 bits: (next >> 8) * 2^-24, exact in float.
  float Uniform() { return float(NextUint32() >> 8) * 5.9604644775390625e-8f; }

 private:
  static uint32_t Rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  uint32_t s_[4];
};

}  // namespace blasnet
