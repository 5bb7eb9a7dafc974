//! Orders and revenue per vendor: one row per vendor, its name on the left, an orders panel
//! and a revenue panel side by side, each bar with its figure at its end. Horizontal bars keep
//! 30 vendor names readable without rotating them; the image grows with the rows.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::money::{grouped, rupees, whole_rupees};
use crate::{ChartError, font, render_png};

/// One vendor's row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorBar {
    pub label: String,
    pub orders: u64,
    pub revenue_paise: i64,
}

pub(crate) const WIDTH: u32 = 1000;
const TITLE_H: u32 = 56;
const CAPTION_H: u32 = 32;
const ROW_H: u32 = 28;
const AXIS_H: u32 = 36;
const BOTTOM: u32 = 12;
pub(crate) const LABEL_W: u32 = 230;
/// Longer names are cut with an ellipsis so that they fit `LABEL_W` at the label size.
const LABEL_CHARS: usize = 26;
const ORDERS: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const REVENUE: RGBColor = RGBColor(0x2f, 0x85, 0x5a);

/// Where things are drawn, so that tests can look for them.
pub(crate) struct Layout {
    rows: u32,
}

impl Layout {
    pub(crate) fn new(bars: usize) -> Self {
        Self {
            rows: u32::try_from(bars).unwrap_or(u32::MAX / ROW_H / 2).max(1),
        }
    }

    pub(crate) fn height(&self) -> u32 {
        TITLE_H + CAPTION_H + self.rows * ROW_H + AXIS_H + BOTTOM
    }

    /// The pixel row through the middle of vendor `i`'s bars and label.
    #[cfg(test)]
    pub(crate) fn row_center(&self, i: u32) -> u32 {
        TITLE_H + CAPTION_H + i * ROW_H + ROW_H / 2
    }
}

/// A PNG of `bars`' orders and revenue (₹) under `title`; no bars draws the title and a note.
pub fn vendor_chart_png(title: &str, bars: &[VendorBar]) -> Result<Vec<u8>, ChartError> {
    let font = font()?;
    let layout = Layout::new(bars.len());
    render_png((WIDTH, layout.height()), |root| {
        root.fill(&WHITE)?;
        let (head, body) = root.split_vertically(TITLE_H);
        centered(&head, title, (font, 24).into_font().color(&BLACK))?;
        if bars.is_empty() {
            let note = (font, 16).into_font().color(&BLACK);
            return centered(&body, "No orders in this period", note);
        }
        let (names, panels) = body.split_horizontally(LABEL_W);
        draw_names(&names, bars, font)?;
        let (left, right) = panels.split_horizontally((WIDTH - LABEL_W) / 2);
        let orders = Panel {
            caption: "Orders",
            color: ORDERS,
            range: 0.0..headroom(bars.iter().map(|b| b.orders as f64), 1.25).end,
            tick: |x| grouped(x.round().max(0.0) as u64),
        };
        orders.draw(&left, bars, |b| (b.orders as f64, grouped(b.orders)), font)?;
        let revenue = Panel {
            caption: "Revenue (₹)",
            color: REVENUE,
            // Rupees as drawing coordinates only; every figure written is from integer paise.
            range: headroom(bars.iter().map(|b| b.revenue_paise as f64 / 100.0), 1.5),
            tick: whole_rupees,
        };
        revenue.draw(
            &right,
            bars,
            |b| (b.revenue_paise as f64 / 100.0, rupees(b.revenue_paise)),
            font,
        )
    })
}

/// The x range for values: from 0 (or the lowest negative) to the highest, with room after it
/// for the figure written at the end of the longest bar.
fn headroom(values: impl Iterator<Item = f64>, factor: f64) -> Range<f64> {
    let (low, high) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (low * 1.1)..(high.max(1.0) * factor)
}

fn centered(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    text: &str,
    style: TextStyle<'_>,
) -> Result<(), ChartError> {
    let (w, h) = area.dim_in_pixel();
    let style = style.pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(text, (w as i32 / 2, h as i32 / 2), style))?;
    Ok(())
}

fn draw_names(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    bars: &[VendorBar],
    font: &str,
) -> Result<(), ChartError> {
    let style = (font, 14)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (i, bar) in bars.iter().enumerate() {
        let y = (CAPTION_H + i as u32 * ROW_H + ROW_H / 2) as i32;
        let text = Text::new(
            shortened(&bar.label),
            (LABEL_W as i32 - 10, y),
            style.clone(),
        );
        area.draw(&text)?;
    }
    Ok(())
}

fn shortened(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_owned();
    }
    let head: String = label.chars().take(LABEL_CHARS - 1).collect();
    format!("{}…", head.trim_end())
}

struct Panel<F: Fn(&f64) -> String> {
    caption: &'static str,
    color: RGBColor,
    range: Range<f64>,
    tick: F,
}

impl<F: Fn(&f64) -> String> Panel<F> {
    /// One bar per vendor, first vendor at the top, each with its figure after it.
    fn draw(
        &self,
        area: &DrawingArea<BitMapBackend<'_>, Shift>,
        bars: &[VendorBar],
        value: impl Fn(&VendorBar) -> (f64, String),
        font: &str,
    ) -> Result<(), ChartError> {
        let (head, plot) = area.split_vertically(CAPTION_H);
        centered(&head, self.caption, (font, 17).into_font().color(&BLACK))?;
        let rows = bars.len() as f64;
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(8)
            .margin_right(24)
            .margin_bottom(BOTTOM)
            .x_label_area_size(AXIS_H)
            .build_cartesian_2d(self.range.clone(), 0.0..rows)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(5)
            .x_label_formatter(&self.tick)
            .x_label_style((font, 12))
            .light_line_style(RGBColor(0xee, 0xee, 0xee))
            .draw()?;
        let figure = (font, 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, bar) in bars.iter().enumerate() {
            let (v, text) = value(bar);
            let top = rows - i as f64;
            chart.draw_series([Rectangle::new(
                [(0.0, top - 0.2), (v, top - 0.8)],
                self.color.filled(),
            )])?;
            let end = EmptyElement::at((v.max(0.0), top - 0.5));
            chart.draw_series([end + Text::new(text, (4, 0), figure.clone())])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Image;

    fn bar(label: &str, orders: u64, revenue_paise: i64) -> VendorBar {
        VendorBar {
            label: label.into(),
            orders,
            revenue_paise,
        }
    }

    /// The label column's pixels around vendor `i`'s row.
    fn label_ink(image: &Image, layout: &Layout, i: u32) -> usize {
        let y = layout.row_center(i);
        image.dark_pixels((20, y - 9), (LABEL_W - 4, y + 9))
    }

    #[test]
    fn draws_each_vendor_name_beside_its_bars_with_the_embedded_font() {
        let bars = [bar("Gokul Dairy", 12, 345_650), bar("", 3, 9_000)];
        let image = Image::decode(&vendor_chart_png("Orders on 5 Dec 2026", &bars).unwrap());
        let layout = Layout::new(2);
        assert_eq!((image.width, image.height), (WIDTH, layout.height()));
        assert!(
            label_ink(&image, &layout, 0) > 40,
            "the first vendor's name is drawn in its row"
        );
        assert_eq!(
            label_ink(&image, &layout, 1),
            0,
            "an empty name draws nothing: the ink above is the text"
        );
        // The orders panel's first bar, a third of the way into it, is the orders colour.
        let x = LABEL_W + 8 + (WIDTH - LABEL_W) / 2 / 3;
        assert_eq!(image.pixel(x, layout.row_center(0)), [0x2b, 0x6c, 0xb0]);
    }

    #[test]
    fn no_bars_draw_the_title_and_a_note() {
        let image = Image::decode(&vendor_chart_png("Orders on 5 Dec 2026", &[]).unwrap());
        assert_eq!(
            (image.width, image.height),
            (WIDTH, Layout::new(0).height())
        );
        assert!(
            image.dark_pixels((0, 0), (WIDTH, TITLE_H)) > 100,
            "the title"
        );
        let below = image.dark_pixels((0, TITLE_H), (WIDTH, image.height));
        assert!(below > 100, "the note");
    }

    #[test]
    fn thirty_vendors_get_thirty_rows_each_with_its_name() {
        let bars: Vec<_> = (0..30)
            .map(|i| {
                bar(
                    &format!("Vendor number {i:02} of Pune"),
                    i,
                    i as i64 * 12_345,
                )
            })
            .collect();
        let image = Image::decode(&vendor_chart_png("30 vendors", &bars).unwrap());
        let layout = Layout::new(30);
        assert_eq!(image.height, layout.height());
        for i in 0..30 {
            assert!(label_ink(&image, &layout, i) > 40, "row {i} has its name");
        }
    }

    #[test]
    fn one_vendor_and_negative_revenue_still_draw() {
        let image = Image::decode(&vendor_chart_png("One", &[bar("Solo", 0, -2_500)]).unwrap());
        assert!(image.non_white_pixels() > 1_000);
    }

    #[test]
    fn long_names_are_cut_to_fit_the_label_column() {
        let name = "The Very Long Name Of A Cooperative Dairy Society";
        let cut = shortened(name);
        assert_eq!(cut.chars().count(), LABEL_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(shortened("Gokul"), "Gokul");
    }
}
