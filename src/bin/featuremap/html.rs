//! The CLI's HTML pages: `cam --html` (overlays inline) and `demo`'s index.html (PNG files next
//! to it) share one look, one escaper and one PNG encoder, so the two pages cannot drift apart.

use std::path::Path;

use featuremap::{Error, Result};

/// Dark page, images drawn with hard pixel edges (the inputs are small; blurring them would hide
/// what the network saw). `img.tile` is an overlay-sized image; other images keep their size.
const STYLE: &str = "body{font-family:sans-serif;background:#111;color:#eee;margin:16px}\
    figure{display:inline-block;margin:8px;text-align:center;vertical-align:top}\
    img{image-rendering:pixelated;border:1px solid #444;max-width:100%}img.tile{width:224px}\
    table{border-collapse:collapse}td,th{padding:4px 10px;text-align:left;vertical-align:middle}\
    tr+tr{border-top:1px solid #333}pre{background:#1b1b1b;padding:8px;overflow-x:auto}";

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Encodes an RGBA image as PNG bytes.
pub fn png_bytes(img: &image::RgbaImage) -> Result<Vec<u8>> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png)
        .map_err(|e| Error::Image { path: Path::new("<memory>").into(), message: e.to_string() })?;
    Ok(buf.into_inner())
}

/// A `data:` URL of PNG bytes, for pages that must stand alone.
pub fn data_url(png: &[u8]) -> String {
    use base64::Engine;
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png))
}

/// An `<img>` tag; `src` is a URL (a file name relative to the page, or a [`data_url`]), `tile`
/// shows it at the overlay size.
pub fn img(src: &str, alt: &str, tile: bool) -> String {
    let class = if tile { " class=\"tile\"" } else { "" };
    format!("<img{class} alt=\"{}\" src=\"{}\">", escape(alt), escape(src))
}

/// A page being written, from `<!DOCTYPE html>` to [`Page::finish`].
pub struct Page(String);

impl Page {
    /// A page whose title is also its `<h1>`.
    pub fn new(title: &str) -> Page {
        let t = escape(title);
        Page(format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>{STYLE}</style></head>\n\
             <body><h1>{t}</h1>\n"
        ))
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) {
        self.0.push_str(&format!("<h2>{}</h2>\n", escape(text)));
    }

    /// A paragraph of plain text.
    pub fn paragraph(&mut self, text: &str) {
        self.0.push_str(&format!("<p>{}</p>\n", escape(text)));
    }

    /// A figure: one image tag (see [`img`]) over caption lines of plain text.
    pub fn figure(&mut self, image: &str, caption: &[String]) {
        let lines: Vec<String> = caption.iter().map(|l| escape(l)).collect();
        self.0.push_str(&format!("<figure>{image}<figcaption>{}</figcaption></figure>\n", lines.join("<br>")));
    }

    /// A table; `rows` hold HTML (escape text cells with [`escape`]).
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) {
        self.0.push_str("<table>\n<tr>");
        for h in headers {
            self.0.push_str(&format!("<th>{}</th>", escape(h)));
        }
        self.0.push_str("</tr>\n");
        for row in rows {
            self.0.push_str("<tr>");
            for cell in row {
                self.0.push_str(&format!("<td>{cell}</td>"));
            }
            self.0.push_str("</tr>\n");
        }
        self.0.push_str("</table>\n");
    }

    /// Preformatted text (a table printed for a terminal).
    pub fn pre(&mut self, text: &str) {
        self.0.push_str(&format!("<pre>{}</pre>\n", escape(text)));
    }

    /// The finished page.
    pub fn finish(mut self) -> String {
        self.0.push_str("</body></html>\n");
        self.0
    }
}

/// One explained image of `cam --html`.
pub struct Item {
    pub name: String,
    pub class: usize,
    /// The class's name, where the model or `--labels` gives one.
    pub label: Option<String>,
    pub prob: f32,
    pub png: Vec<u8>,
}

/// `cam --html`: one self-contained page, every overlay inline as a data URL with its class and
/// score, so the page can be mailed or archived as one file.
pub fn cam_report(title: &str, items: &[Item]) -> String {
    let mut page = Page::new(title);
    for it in items {
        let class = match &it.label {
            Some(l) => format!("class {} {l} ({:.1}%)", it.class, 100.0 * it.prob),
            None => format!("class {} ({:.1}%)", it.class, 100.0 * it.prob),
        };
        page.figure(&img(&data_url(&it.png), &it.name, true), &[it.name.clone(), class]);
    }
    page.finish()
}
