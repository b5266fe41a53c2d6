// The doctest runner of the core's unit tests, shared by CMake/CTest and `pio test -e native`.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest.h>

int main(int argc, char** argv) {
  doctest::Context context;
#ifdef PIO_UNIT_TESTING
  // PlatformIO's doctest runner reads every case from the success report and judges the run itself
  // (docs.platformio.org, unit testing → frameworks → doctest); CMake/CTest wants doctest's own exit code.
  context.setOption("success", true);
  context.setOption("no-exitcode", true);
#endif
  context.applyCommandLine(argc, argv);
  return context.run();
}
