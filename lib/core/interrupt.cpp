#include "core/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <csignal>

namespace osteofm {

namespace {
volatile std::sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  if (g_signal != 0) {  // the second one: the user means it
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_signal = sig;
  // Said at once (write(2) is async-signal-safe), so a first Ctrl-C is never met by silence.
  static const char said[] = "\nosteofm: stopping at the next safe point (a second Ctrl-C or SIGTERM stops at once)\n";
  const ssize_t ignored = ::write(2, said, sizeof said - 1);
  (void)ignored;
}

std::string& hint_text() {
  static std::string hint;
  return hint;
}
}  // namespace

Interrupted::Interrupted(int signal) : std::runtime_error("interrupted by " + signal_name(signal)), signal_(signal) {}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking wait returns EINTR and looks at the flag
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

int interrupt_signal() { return g_signal; }

void throw_if_interrupted() {
  if (g_signal != 0) throw Interrupted(g_signal);
}

void set_resume_hint(const std::string& hint) { hint_text() = hint; }
const std::string& resume_hint() { return hint_text(); }

std::string signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT (Ctrl-C)";
    case SIGTERM: return "SIGTERM";
    default: return "signal " + std::to_string(signal);
  }
}

}  // namespace osteofm
