#include "cli_main.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "command.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/limits.hpp"
#include "core/log.hpp"

namespace osteofm::cli {

namespace {
// The global options that take a value (--threads, --max-pixels, --log-format): verb_of
// skips them with their value.
const char* const kValueOptions[] = {"--threads", "--max-pixels", "--log-format"};
}  // namespace

std::string verb_of(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.empty() || a[0] != '-') return a;
    for (const char* option : kValueOptions)
      if (a == option) ++i;
  }
  return "";
}

int run_command_line(int argc, char** argv, const ProcessSetup& setup) {
  CLI::App app{"osteofm: compare vision foundation models for osteoporosis screening on chest X-rays"};
  app.name("osteofm");
  app.fallthrough();  // global flags may follow the subcommand
  app.require_subcommand(0, 1);
  bool version = false;
  int threads = 0;
  app.add_flag("--version", version, "Print the version and exit");
  app.add_option(kValueOptions[0], threads, "CPU threads (default: all cores)")
      ->envname("OSTEOFM_THREADS")
      ->check(CLI::Range(0, 4096));
  long long max_pixels = kDefaultMaxImagePixels;
  app.add_option(kValueOptions[1], max_pixels,
                 "Largest image decoded, in pixels (width x height x frames), checked on the header before decoding")
      ->capture_default_str()
      ->check(CLI::Range(1LL, 4'000'000'000LL));

  bool quiet = false, verbose = false;
  app.add_flag("--quiet,-q", quiet, "Warnings only: no progress, no notes");
  app.add_flag("--verbose", verbose, "Debug lines too")->excludes("--quiet");
  std::string log_format = "auto";
  app.add_option(kValueOptions[2], log_format,
                 "auto: text lines on a terminal, JSON lines elsewhere (Slurm logs, pipes); or text, json")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "text", "json"}));

  Commands commands;
  add_registered_commands(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Point at the help of the verb being parsed ("osteofm data check --help").
    std::string verb;
    const CLI::App* at = &app;
    for (auto subs = at->get_subcommands(); !subs.empty(); subs = at->get_subcommands()) {
      at = subs.front();
      verb += " " + at->get_name();
    }
    std::string what = one_line(e.what());
    // A bad --threads that came from the environment: name the variable the user set.
    const bool threads_typed = std::any_of(argv + 1, argv + argc, [](const char* a) {
      return std::strcmp(a, "--threads") == 0 || std::strncmp(a, "--threads=", 10) == 0;
    });
    if (!threads_typed && std::getenv("OSTEOFM_THREADS") && what.rfind("--threads", 0) == 0)
      what = "OSTEOFM_THREADS (--threads from the environment)" + what.substr(std::string("--threads").size());
    std::cerr << "osteofm: error: " << what << " (run 'osteofm" << verb << " --help')\n";
    return 2;
  }
  set_log_level(quiet ? LogLevel::warning : verbose ? LogLevel::debug : LogLevel::info);
  set_log_format(log_format == "text"   ? LogFormat::text
                 : log_format == "json" ? LogFormat::json
                                        : LogFormat::automatic);
  if (version) {
    std::cout << setup.version_line() << "\n";
    return 0;
  }
  try {
    refuse_control_characters(argc, argv);
    set_max_image_pixels(max_pixels);
    setup.configure_threads(threads);
    setup.record_process(argc, argv);
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
    std::cout << app.help();
    return 2;
  } catch (const Interrupted& e) {
    const std::string& hint = resume_hint();
    std::cerr << "osteofm: " << e.what() << ": "
              << (hint.empty() ? std::string("nothing half-written was kept; run the same command again") : hint) << "\n";
    return 128 + e.signal();
  } catch (const InputError& e) {
    std::cerr << "osteofm: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "osteofm: failure: " << one_line(e.what()) << "\n";
    return 1;
  }
}

}  // namespace osteofm::cli
