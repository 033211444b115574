// Package needs decides what a test does when a real peer it needs (a
// program, an npm package, a source tarball) is not on the machine: on a
// developer's machine it skips with a message naming what to install; in CI
// (the CI environment variable set, as .ci/run does, and running as root) it
// fails, because .ci/run installs everything and a skip there would hide a
// broken CI setup.
package needs
