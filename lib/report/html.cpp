#include "report/html.hpp"

#include <filesystem>
#include <sstream>

#include "core/atomic_file.hpp"

namespace osteofm {

std::string html_escape(std::string_view text) {
  std::string o;
  o.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string base64_encode(std::string_view bytes) {
  static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string data_uri_of_file(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  const char* type = ext == ".svg" ? "image/svg+xml" : ext == ".png" ? "image/png" : "application/octet-stream";
  return std::string("data:") + type + ";base64," + base64_encode(read_file(path));
}

std::string html_figure(const std::string& path, const std::string& caption, const std::string& css_class) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::string();
  return "<figure" + (css_class.empty() ? std::string() : " class=\"" + css_class + "\"") + "><img src=\"" +
         data_uri_of_file(path) + "\" alt=\"" + html_escape(caption) + "\"><figcaption>" + html_escape(caption) +
         "</figcaption></figure>\n";
}

namespace {
std::vector<std::string> pipe_cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '|') {
      size_t a = cur.find_first_not_of(' '), b = cur.find_last_not_of(' ');
      cells.push_back(a == std::string::npos ? std::string() : cur.substr(a, b - a + 1));
      cur.clear();
    } else {
      cur += line[i];
    }
  }
  return cells;
}

// Escaped text with Markdown's **bold** as <strong>.
std::string inline_markdown(const std::string& text) {
  std::string e = html_escape(text), o;
  bool open = false;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e.compare(i, 2, "**") == 0) {
      o += open ? "</strong>" : "<strong>";
      open = !open;
      ++i;
    } else {
      o += e[i];
    }
  }
  if (open) o += "</strong>";
  return o;
}
}  // namespace

std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::string s = "<table>\n<thead><tr>";
  for (const auto& h : header) s += "<th>" + inline_markdown(h) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& r : rows) {
    s += "<tr>";
    for (const auto& c : r) s += "<td>" + inline_markdown(c) + "</td>";
    s += "</tr>\n";
  }
  return s + "</tbody>\n</table>\n";
}

std::string html_from_markdown_table(const std::string& markdown) {
  std::istringstream in(markdown);
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string notes;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("|", 0) == 0) {
      if (header.empty()) header = pipe_cells(line);
      else if (line.find_first_not_of("|-: ") != std::string::npos) rows.push_back(pipe_cells(line));
    } else if (!line.empty() && line.rfind("#", 0) != 0) {
      notes += "<p class=\"note\">" + inline_markdown(line) + "</p>\n";
    }
  }
  return (header.empty() ? std::string() : html_table(header, rows)) + notes;
}

}  // namespace osteofm
