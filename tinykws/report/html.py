"""Render the report's Markdown to a self-contained HTML page.

The report writes a small, regular subset of Markdown (headings, paragraphs,
bullet lists, pipe tables, images, ``code`` and **bold**), so a converter of
that subset is a screenful and needs no dependency. Images stay relative
links, so ``index.html`` sits beside its PNG files.
"""

from __future__ import annotations

import html
import re

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5rem 0; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"""


def _inline(text: str) -> str:
    """Escape, then apply images, code spans, bold and links."""
    out = html.escape(text, quote=False)
    out = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r'<img alt="\1" src="\2">', out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', out)
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    header, align, *rows = lines
    right = [c.endswith(":") for c in _cells(align)]

    def row(cells: list[str], tag: str) -> str:
        parts = []
        for i, c in enumerate(cells):
            cls = ' class="num"' if i < len(right) and right[i] else ""
            parts.append(f"<{tag}{cls}>{_inline(c)}</{tag}>")
        return "<tr>" + "".join(parts) + "</tr>"

    body = "\n".join(row(_cells(r), "td") for r in rows)
    return f"<table>\n<thead>{row(_cells(header), 'th')}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def markdown_to_html(markdown: str, title: str = "tinykws report") -> str:
    """Convert the report's Markdown subset to a complete HTML document."""
    blocks: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif m := re.match(r"(#{1,4}) (.*)", line):
            level = len(m.group(1))
            blocks.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
            i += 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            blocks.append(_table(lines[i:j]))
            i = j
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            blocks.append("<ul>\n" + "\n".join(items) + "\n</ul>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"(#{1,4} |\||- )", lines[i]):
                para.append(lines[i])
                i += 1
            blocks.append(f"<p>{_inline(' '.join(para))}</p>")
    body = "\n".join(blocks)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")
