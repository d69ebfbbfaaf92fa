// osteofm: parse the command line, set threads, run the one subcommand, map errors to
// exit codes (0 ok, 1 runtime failure, 2 usage or input error).
#include <iostream>

#include "about.hpp"
#include "command.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/limits.hpp"

int main(int argc, char** argv) {
  using namespace osteofm;
  CLI::App app{"osteofm: compare vision foundation models for osteoporosis screening on chest X-rays"};
  app.name("osteofm");
  app.fallthrough();  // global flags may follow the subcommand
  app.require_subcommand(0, 1);
  bool version = false;
  int threads = 0;
  app.add_flag("--version", version, "Print the version and exit");
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 4096));
  long long max_pixels = kDefaultMaxImagePixels;
  app.add_option("--max-pixels", max_pixels,
                 "Largest image decoded, in pixels (width x height x frames), checked on the header before decoding")
      ->capture_default_str()
      ->check(CLI::Range(1LL, 4'000'000'000LL));

  cli::Commands commands;
  cli::add_registered_commands(app, commands);

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
    std::cerr << "osteofm: error: " << one_line(e.what()) << " (run 'osteofm" << verb << " --help')\n";
    return 2;
  }
  if (version) {
    std::cout << cli::version_line() << "\n";
    return 0;
  }
  try {
    cli::refuse_control_characters(argc, argv);
    set_max_image_pixels(max_pixels);
    cli::configure_threads(threads);
    cli::record_process(argc, argv);
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
