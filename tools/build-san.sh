#!/bin/sh
# Configures and builds the sanitizer build into build-san/: clang with
# AddressSanitizer and UBSan (-DLBD_SANITIZE=ON) and the libFuzzer targets
# (-DLBD_FUZZ=ON). Only the test binaries are built (target lbd_tests):
# the daemon and the tools are built and tested in build/.
# Extra arguments go to cmake's configure step.
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_C_COMPILER=clang -DLBD_SANITIZE=ON -DLBD_FUZZ=ON "$@" >/dev/null
cmake --build build-san -j "$(nproc)" --target lbd_tests
