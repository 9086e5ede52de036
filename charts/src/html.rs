//! HTML text: the one escape every page and report uses, and the plain report page.

/// `s` safe as HTML text and inside a quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page a person reads at a glance: title, a line of context, a table, the chart.
pub fn html(title: &str, description: &str, table: &str, svg: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:24px}}pre{{background:#f6f6f6;padding:12px;white-space:pre-wrap}}</style></head>\
         <body><h1>{t}</h1><p>{d}</p><pre>{table}</pre><figure class=\"chart\">{svg}</figure></body></html>\n",
        t = escape(title),
        d = escape(description),
        table = escape(table),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_and_attributes_cannot_break_out() {
        assert_eq!(
            super::escape("<a href=\"x\" title='y'>&</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }
}
