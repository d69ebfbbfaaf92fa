// Ctrl-C and SIGTERM (Slurm's scancel, `timeout`) stop long work at the next safe point
// instead of killing the process between two writes: the first signal sets a flag that the
// long loops (training batches, image decoding, explain, a sweep's wait) check; the work
// unwinds with Interrupted, records "interrupted" where it keeps a state, releases its
// locks, and main says what stopped and how to resume (exit 128 + signal, as a shell does).
// A second signal ends the process at once.
#pragma once
#include <stdexcept>
#include <string>

namespace osteofm {

class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

// SIGINT and SIGTERM set the flag (the second one restores the default and re-raises).
void install_interrupt_handlers();
// The signal received (0 when none).
int interrupt_signal();
// Throws Interrupted when a signal was received.
void throw_if_interrupted();
// What the command does and how to resume it, for main's message ("" = rerun the command).
void set_resume_hint(const std::string& hint);
const std::string& resume_hint();
// "SIGINT", "SIGTERM", ...
std::string signal_name(int signal);

}  // namespace osteofm
