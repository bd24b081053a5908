"""The report's Markdown subset becomes the HTML a browser shows."""

from tinykws.report.html import markdown_to_html


def test_headings_paragraphs_and_lists():
    page = markdown_to_html("# Title\n\nSome **bold** and `code`.\n\n- one\n- two\n")
    assert "<h1>Title</h1>" in page
    assert "<p>Some <strong>bold</strong> and <code>code</code>.</p>" in page
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in page


def test_tables_right_align_numeric_columns():
    page = markdown_to_html("| layer | params |\n|---|---:|\n| conv | 648 |\n")
    assert "<th>layer</th>" in page and '<th class="num">params</th>' in page
    assert '<td class="num">648</td>' in page


def test_images_are_relative_links_and_text_is_escaped():
    page = markdown_to_html("![curves](curves.png)\n\na < b & c\n")
    assert '<img alt="curves" src="curves.png">' in page
    assert "a &lt; b &amp; c" in page
