//! The daily report's charts, drawn in memory and returned as PNG bytes.
//!
//! Text comes only from the DejaVu Sans subset embedded below (src/font/), registered with
//! plotters' `ab_glyph` backend: the Lambda runtime (`provided.al2023`) has no fonts and no
//! fontconfig, and plotters' default `ttf` feature would look the family up among the system's
//! fonts (font-kit) and fail there while passing on a developer's machine. With only
//! `ab_glyph` compiled in, a family that was not registered from bytes is an error everywhere.
//!
//! Linked only into the report job: plotters, ab_glyph, the font (22 KB) and the PNG encoder
//! add 343 KiB to an arm64 bootstrap built with the workspace's release profile (a binary
//! drawing both charts, 624 KiB, against the same binary without them, 282 KiB).
//!
//! The PNG is written here ([`png_file`]): the png crate's encoder brought two more deflate
//! implementations (fdeflate, and flate2 over miniz_oxide) where the store's packed items
//! link miniz_oxide already, and the reporting function is the one closest to 5 MiB.

mod money;
mod trend;
mod vendors;

use std::sync::OnceLock;

use plotters::backend::DrawingBackend;
use plotters::prelude::{BitMapBackend, DrawingAreaErrorKind, IntoDrawingArea};
use plotters::style::{FontStyle, register_font};

/// The bitmap backend's own error (plotters does not re-export its name).
type BitMapBackendError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

pub use trend::trend_chart_png;
pub use vendors::{VendorBar, vendor_chart_png};

/// The family name the embedded font is registered under; no system font can answer to it.
const FONT: &str = "milkrun-dejavu-sans";
static FONT_BYTES: &[u8] = include_bytes!("font/DejaVuSans-subset.ttf");

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the embedded font cannot be read")]
    Font,
    #[error("drawing the chart")]
    Draw(#[from] DrawingAreaErrorKind<BitMapBackendError>),
}

/// Registers the embedded font once per process (plotters keeps it in a global map).
fn font() -> Result<&'static str, ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok { Ok(FONT) } else { Err(ChartError::Font) }
}

/// Draws into an RGB buffer of `width` × `height` with `draw`, then encodes it as PNG.
fn render_png(
    (width, height): (u32, u32),
    draw: impl FnOnce(
        &plotters::drawing::DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), ChartError>,
) -> Result<Vec<u8>, ChartError> {
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present()?;
    }
    Ok(png_file(&rgb, (width, height)))
}

/// An 8-bit RGB image as a PNG file: the signature, then IHDR, one IDAT (every row
/// unfiltered, zlib-deflated: a chart's flat colours pack well without filters) and IEND,
/// each chunk closed by the CRC-32 of its type and data (PNG specification, §5 and §11).
fn png_file(rgb: &[u8], (width, height): (u32, u32)) -> Vec<u8> {
    let row = width as usize * 3;
    let mut scanlines = Vec::with_capacity((row + 1) * height as usize);
    for line in rgb.chunks(row) {
        scanlines.push(0);
        scanlines.extend_from_slice(line);
    }
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut file, b"IHDR", &header);
    let image = miniz_oxide::deflate::compress_to_vec_zlib(&scanlines, 6);
    chunk(&mut file, b"IDAT", &image);
    chunk(&mut file, b"IEND", &[]);
    file
}

fn chunk(file: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).expect("a chart's image is far below 4 GiB");
    file.extend_from_slice(&length.to_be_bytes());
    let start = file.len();
    file.extend_from_slice(kind);
    file.extend_from_slice(data);
    let crc = crc32fast::hash(&file[start..]);
    file.extend_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use plotters::prelude::*;

    use super::*;

    fn text_in(family: &str) -> Result<Vec<u8>, ChartError> {
        render_png((200, 40), |root| {
            root.fill(&WHITE)?;
            root.draw(&Text::new("Gokul", (10, 10), (family, 16)))?;
            Ok(())
        })
    }

    /// Only a family registered from bytes can draw: "DejaVu Sans" is installed on most
    /// developer machines (it is where the embedded subset comes from), and a build that looked
    /// fonts up on the system (plotters' `ttf` feature) would draw with it here, then fail on
    /// Lambda, which has none.
    #[test]
    fn text_comes_from_the_embedded_font_and_never_from_the_system() {
        assert!(text_in(font().unwrap()).is_ok());
        assert!(matches!(text_in("DejaVu Sans"), Err(ChartError::Draw(_))));
        assert!(matches!(text_in("sans-serif"), Err(ChartError::Draw(_))));
    }
}

#[cfg(test)]
pub(crate) mod testing {
    /// A decoded PNG: width, height and RGB bytes.
    pub struct Image {
        pub width: u32,
        pub height: u32,
        rgb: Vec<u8>,
    }

    impl Image {
        pub fn decode(png_bytes: &[u8]) -> Image {
            let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
            let mut reader = decoder.read_info().expect("a PNG header");
            let mut rgb = vec![0; reader.output_buffer_size().expect("a sane size")];
            let info = reader.next_frame(&mut rgb).expect("one frame");
            assert_eq!(info.color_type, png::ColorType::Rgb);
            rgb.truncate(info.buffer_size());
            Image {
                width: info.width,
                height: info.height,
                rgb,
            }
        }

        pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
            let at = (y as usize * self.width as usize + x as usize) * 3;
            [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
        }

        /// Pixels in `[x0, x1) × [y0, y1)` that are dark, as text and axes are drawn.
        pub fn dark_pixels(&self, (x0, y0): (u32, u32), (x1, y1): (u32, u32)) -> usize {
            (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| self.pixel(x, y).iter().all(|&c| c < 110))
                .count()
        }

        pub fn non_white_pixels(&self) -> usize {
            self.rgb.chunks(3).filter(|p| p != &[255, 255, 255]).count()
        }
    }
}
