//! The last days' trend: orders above, revenue (₹) below, one point per day.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::money::{grouped, whole_rupees};
use crate::{ChartError, font, render_png};

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 640;
const TITLE_H: u32 = 56;
const ORDERS: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const REVENUE: RGBColor = RGBColor(0x2f, 0x85, 0x5a);

/// A PNG of orders and revenue per day (`(date, orders, revenue in paise)`, oldest first).
pub fn trend_chart_png(days: &[(NaiveDate, u64, i64)]) -> Result<Vec<u8>, ChartError> {
    let font = font()?;
    render_png((WIDTH, HEIGHT), |root| {
        root.fill(&WHITE)?;
        let (head, body) = root.split_vertically(TITLE_H);
        let title = match (days.first(), days.last()) {
            (Some(first), Some(last)) => format!(
                "Orders and revenue, {} to {}",
                first.0.format("%-d %b"),
                last.0.format("%-d %b %Y")
            ),
            _ => "Orders and revenue: no days to show".to_owned(),
        };
        head.titled(&title, (font, 24))?;
        if days.is_empty() {
            return Ok(());
        }
        let (top, bottom) = body.split_vertically((HEIGHT - TITLE_H) / 2);
        let orders: Vec<f64> = days.iter().map(|d| d.1 as f64).collect();
        line(
            &top,
            "Orders",
            ORDERS,
            days,
            &orders,
            &|y| grouped(y.round().max(0.0) as u64),
            font,
        )?;
        // Rupees as drawing coordinates only; the axis labels are rounded whole rupees.
        let revenue: Vec<f64> = days.iter().map(|d| d.2 as f64 / 100.0).collect();
        line(
            &bottom,
            "Revenue (₹)",
            REVENUE,
            days,
            &revenue,
            &whole_rupees,
            font,
        )
    })
}

fn line(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    caption: &str,
    color: RGBColor,
    days: &[(NaiveDate, u64, i64)],
    values: &[f64],
    tick: &dyn Fn(&f64) -> String,
    font: &str,
) -> Result<(), ChartError> {
    let low = values.iter().copied().fold(0.0f64, f64::min);
    let high = values.iter().copied().fold(1.0f64, f64::max) * 1.1;
    let last = days.len() as i32 - 1;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (font, 17))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(90)
        // One day alone still gets an axis with a width.
        .build_cartesian_2d(-0.5f64..(last as f64 + 0.5), low..high)?;
    let date = |x: &f64| {
        let i = x.round() as usize;
        match days.get(i) {
            Some(day) if (x - i as f64).abs() < 1e-6 => day.0.format("%-d %b").to_string(),
            _ => String::new(),
        }
    };
    chart
        .configure_mesh()
        .x_labels(days.len().min(14))
        .x_label_formatter(&date)
        .y_label_formatter(tick)
        .label_style((font, 12))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()?;
    let points = values.iter().enumerate().map(|(i, &v)| (i as f64, v));
    chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
    chart.draw_series(points.map(|p| Circle::new(p, 3, color.filled())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Image;

    fn day(d: u32, orders: u64, paise: i64) -> (NaiveDate, u64, i64) {
        (NaiveDate::from_ymd_opt(2026, 11, d).unwrap(), orders, paise)
    }

    #[test]
    fn fourteen_days_draw_both_lines() {
        let days: Vec<_> = (1..=14)
            .map(|d| day(d, d as u64 * 3, d as i64 * 50_000))
            .collect();
        let image = Image::decode(&trend_chart_png(&days).unwrap());
        assert_eq!((image.width, image.height), (WIDTH, HEIGHT));
        let half = TITLE_H + (HEIGHT - TITLE_H) / 2;
        let count = |rgb: [u8; 3], y0: u32, y1: u32| {
            (y0..y1)
                .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
                .filter(|&(x, y)| image.pixel(x, y) == rgb)
                .count()
        };
        assert!(
            count([0x2b, 0x6c, 0xb0], TITLE_H, half) > 200,
            "the orders line, above"
        );
        assert!(
            count([0x2f, 0x85, 0x5a], half, HEIGHT) > 200,
            "the revenue line, below"
        );
        assert!(
            image.dark_pixels((0, 0), (WIDTH, TITLE_H)) > 100,
            "the title"
        );
    }

    #[test]
    fn one_day_and_no_days_still_draw() {
        let one = Image::decode(&trend_chart_png(&[day(5, 2, 100)]).unwrap());
        assert!(one.non_white_pixels() > 1_000);
        let none = Image::decode(&trend_chart_png(&[]).unwrap());
        assert!(
            none.dark_pixels((0, 0), (WIDTH, TITLE_H)) > 100,
            "the title says why"
        );
    }
}
