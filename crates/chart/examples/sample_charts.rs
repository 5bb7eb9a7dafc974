//! Writes sample charts to look at: `cargo run --example sample_charts -- DIR`.

use chrono::NaiveDate;
use milkrun_chart::{VendorBar, trend_chart_png, vendor_chart_png};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let bars: Vec<VendorBar> = (0..30u64)
        .map(|i| VendorBar {
            label: format!("Dairy {i:02} of the Pune cooperative society"),
            orders: (i * 7) % 40,
            revenue_paise: ((i * 7919) % 100_000) as i64 * 100 + 50,
        })
        .collect();
    std::fs::write(
        dir.join("vendors-30.png"),
        vendor_chart_png("Orders on 5 Dec 2026", &bars)?,
    )?;
    std::fs::write(
        dir.join("vendors-1.png"),
        vendor_chart_png("One vendor", &bars[3..4])?,
    )?;
    std::fs::write(
        dir.join("vendors-0.png"),
        vendor_chart_png("No vendor", &[])?,
    )?;
    let start = NaiveDate::from_ymd_opt(2026, 11, 22).ok_or("date")?;
    let days: Vec<_> = (0..14u64)
        .map(|i| {
            (
                start + chrono::Days::new(i),
                20 + (i * 13) % 17,
                (i as i64 * 3_217 % 9_000 + 500) * 100,
            )
        })
        .collect();
    std::fs::write(dir.join("trend-14.png"), trend_chart_png(&days)?)?;
    Ok(())
}
