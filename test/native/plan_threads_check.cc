// Checks native/plan_threads.h alone (plain C++, linked with OpenBLAS): the team runs every share
// once per region and again region after region; an exception thrown on a worker or on the caller
// comes back to the caller after every share has finished, and the team keeps working after it;
// OpenBLAS is held at one thread while any BlasSolo lives (nested, on two threads at once) and gets
// back the count set before, or set meanwhile through SetCount. Built and run by
// test/native-threads.test.ts; prints what failed and exits 1, or prints OK.
#include <cblas.h>

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

#include "plan_threads.h"

using namespace blasnet;

static int g_failures = 0;
static void Expect(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what.c_str());
    g_failures++;
  }
}

struct Counts {
  std::atomic<int> calls[4];
  std::atomic<int> finished{0};
  int throwOn = -1;
};

static void Count(void* ctx, int t) {
  Counts& c = *static_cast<Counts*>(ctx);
  c.calls[t].fetch_add(1);
  if (t == c.throwOn) throw std::runtime_error("share " + std::to_string(t) + " failed");
  // The other shares take longer: the exception must still wait for them.
  volatile double x = 0;
  for (int i = 0; i < 2000000; i++) x = x + 1e-9 * i;
  c.finished.fetch_add(1);
}

int main() {
  {
    threads::Team team(3);
    Expect(team.size() == 3, "a team of 3 has size 3, got " + std::to_string(team.size()));
    Counts c;
    for (auto& k : c.calls) k = 0;
    for (int r = 0; r < 200; r++) team.Run(3, Count, &c);
    for (int t = 0; t < 3; t++) Expect(c.calls[t] == 200, "share " + std::to_string(t) + " ran " + std::to_string(c.calls[t]) + " times in 200 regions");
    team.Run(2, Count, &c);
    Expect(c.calls[2] == 200 && c.calls[0] == 201 && c.calls[1] == 201, "a region of 2 on a team of 3 runs shares 0 and 1 only");
    for (int thrower : {1, 0}) {
      c.throwOn = thrower;
      c.finished = 0;
      std::string message;
      try {
        team.Run(3, Count, &c);
      } catch (const std::runtime_error& e) {
        message = e.what();
      }
      Expect(message == "share " + std::to_string(thrower) + " failed", "the exception of share " + std::to_string(thrower) + " reaches the caller, got '" + message + "'");
      Expect(c.finished == 2, "the other shares finished before Run rethrew: " + std::to_string(c.finished));
    }
    c.throwOn = -1;
    c.finished = 0;
    team.Run(3, Count, &c);
    Expect(c.finished == 3, "the team runs regions after an exception");
  }  // joins

  threads::SetCount(2);
  Expect(threads::Count() == 2 && openblas_get_num_threads() == 2, "SetCount(2) sets OpenBLAS's count");
  {
    threads::BlasSolo outer;
    Expect(openblas_get_num_threads() == 1, "OpenBLAS runs on one thread under a BlasSolo");
    Expect(threads::Count() == 2, "Count() is still the count set (2) under a BlasSolo");
    std::thread other([] {
      threads::BlasSolo inner;
      Expect(openblas_get_num_threads() == 1, "a second BlasSolo on another thread: still one");
    });
    other.join();
    Expect(openblas_get_num_threads() == 1, "the inner BlasSolo's end leaves the outer one's single thread");
    threads::SetCount(3);
    Expect(openblas_get_num_threads() == 1 && threads::Count() == 3, "SetCount under a BlasSolo waits for its end");
  }
  Expect(openblas_get_num_threads() == 3, "the last BlasSolo's end applies the count set meanwhile, got " + std::to_string(openblas_get_num_threads()));
  threads::SetCount(2);

  if (g_failures > 0) return 1;
  std::printf("OK\n");
  return 0;
}
