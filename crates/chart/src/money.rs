//! Rupees as the report writes them: Indian digit grouping (1,23,456), from integer paise.

/// `₹1,23,456.50` from 12345650 paise; negative amounts (refunds) keep their sign.
pub fn rupees(paise: i64) -> String {
    let sign = if paise < 0 { "−" } else { "" };
    let abs = paise.unsigned_abs();
    format!("{sign}₹{}.{:02}", grouped(abs / 100), abs % 100)
}

/// `₹1,200` for an axis tick: whole rupees, from a drawing coordinate in rupees.
pub fn whole_rupees(rupees: &f64) -> String {
    let whole = rupees.round() as i64;
    let sign = if whole < 0 { "−" } else { "" };
    format!("{sign}₹{}", grouped(whole.unsigned_abs()))
}

/// 1234567 → "12,34,567": the last three digits, then groups of two (lakh, crore).
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    if digits.len() <= 3 {
        return digits;
    }
    let (head, last3) = digits.split_at(digits.len() - 3);
    let mut groups: Vec<&str> = Vec::new();
    let mut end = head.len();
    while end > 0 {
        let start = end.saturating_sub(2);
        groups.push(&head[start..end]);
        end = start;
    }
    groups.reverse();
    format!("{},{last3}", groups.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits_the_indian_way() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(12_345), "12,345");
        assert_eq!(grouped(123_456), "1,23,456");
        assert_eq!(grouped(12_345_678), "1,23,45,678");
    }

    #[test]
    fn rupees_come_from_paise_without_floats() {
        assert_eq!(rupees(12_345_650), "₹1,23,456.50");
        assert_eq!(rupees(5), "₹0.05");
        assert_eq!(rupees(-2_500), "−₹25.00");
        assert_eq!(rupees(i64::MIN), "−₹92,23,37,20,36,85,47,758.08");
        assert_eq!(whole_rupees(&1_199.6), "₹1,200");
    }
}
