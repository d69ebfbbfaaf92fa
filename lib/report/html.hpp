// Small pieces of a self-contained HTML page: escaping, files as data: URIs (figures
// travel inside the page), a Markdown pipe table as an HTML table.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace osteofm {

std::string html_escape(std::string_view text);
std::string base64_encode(std::string_view bytes);
// "data:image/svg+xml;base64,..." or "data:image/png;base64,..." from the file's extension.
std::string data_uri_of_file(const std::string& path);
// <figure> with the file inline and a caption; "" when the file does not exist.
std::string html_figure(const std::string& path, const std::string& caption, const std::string& css_class = "");
// A Markdown pipe table (header row, rule, rows; **bold** kept) as <table>, the lines
// after it as <p class="note">.
std::string html_from_markdown_table(const std::string& markdown);
std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace osteofm
