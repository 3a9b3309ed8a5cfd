//! Exact ratios, always canonical: reduced to lowest terms with a positive denominator, so that
//! equal ratios have equal parts (`6/8` is stored as `3/4`). A denominator of one stays a ratio
//! (`2/1`): the value keeps the type the client sent.

use num_integer::Integer;

use super::ValueErrorKind;

/// A canonical exact ratio of two 64-bit integers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ratio(num_rational::Ratio<i64>);

impl Ratio {
    /// Reduces `numerator/denominator` to canonical form. Fails on a zero denominator, or when the
    /// canonical form does not fit (only `i64::MIN` over a negative denominator can overflow).
    pub fn canonical(numerator: i64, denominator: i64) -> Result<Ratio, ValueErrorKind> {
        if denominator == 0 {
            return Err(ValueErrorKind::ZeroDenominator);
        }
        // gcd of i64::MIN and 0/i64::MIN would overflow in i64; compute in i128.
        let (n, d) = (i128::from(numerator), i128::from(denominator));
        let g = n.gcd(&d);
        let (mut n, mut d) = (n / g, d / g);
        if d < 0 {
            n = -n;
            d = -d;
        }
        match (i64::try_from(n), i64::try_from(d)) {
            (Ok(n), Ok(d)) => Ok(Ratio(num_rational::Ratio::new_raw(n, d))),
            _ => Err(ValueErrorKind::RatioOutOfRange {
                numerator,
                denominator,
            }),
        }
    }

    /// The numerator (carries the sign).
    pub fn numerator(&self) -> i64 {
        *self.0.numer()
    }

    /// The denominator (always positive).
    pub fn denominator(&self) -> i64 {
        *self.0.denom()
    }

    /// The underlying `num-rational` ratio, for arithmetic.
    pub fn as_rational(&self) -> num_rational::Ratio<i64> {
        self.0
    }
}

impl std::fmt::Debug for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.numerator(), self.denominator())
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.numerator(), self.denominator())
    }
}

/// A canonical ratio from literal parts, for code and tests.
///
/// # Panics
/// On a zero denominator or an unrepresentable result; use [`Ratio::canonical`] for input.
pub fn ratio(numerator: i64, denominator: i64) -> Ratio {
    match Ratio::canonical(numerator, denominator) {
        Ok(r) => r,
        Err(e) => panic!("invalid ratio literal {numerator}/{denominator}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_and_moves_the_sign_to_the_numerator() {
        assert_eq!(ratio(6, 8), ratio(3, 4));
        assert_eq!((ratio(6, 8).numerator(), ratio(6, 8).denominator()), (3, 4));
        assert_eq!(
            (ratio(3, -4).numerator(), ratio(3, -4).denominator()),
            (-3, 4)
        );
        assert_eq!(
            (ratio(-3, -6).numerator(), ratio(-3, -6).denominator()),
            (1, 2)
        );
        assert_eq!(
            (ratio(0, -5).numerator(), ratio(0, -5).denominator()),
            (0, 1)
        );
        assert_eq!((ratio(4, 2).numerator(), ratio(4, 2).denominator()), (2, 1));
    }

    #[test]
    fn zero_denominator_and_overflow_are_errors() {
        assert_eq!(Ratio::canonical(1, 0), Err(ValueErrorKind::ZeroDenominator));
        assert!(matches!(
            Ratio::canonical(i64::MIN, -1),
            Err(ValueErrorKind::RatioOutOfRange { .. })
        ));
        assert_eq!(
            Ratio::canonical(i64::MIN, 2).map(|r| r.numerator()),
            Ok(i64::MIN / 2)
        );
        assert_eq!(Ratio::canonical(i64::MIN, i64::MIN), Ok(ratio(1, 1)));
    }
}
