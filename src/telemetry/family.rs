//! The building block of the server's custom `prometheus` collectors: a [`Family`] is one
//! metric family's descriptor (name, help, label names) and type, made once when the collector
//! is built; at scrape time the collector reads its atomics and turns each value into a sample
//! of the family. So the numbers live only in the server's own atomics and are never copied
//! into a second store between scrapes.

use prometheus::core::Desc;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

/// One metric family a collector exposes.
#[derive(Debug)]
pub struct Family {
    desc: Desc,
    kind: MetricType,
}

impl Family {
    fn new(name: &str, help: &str, kind: MetricType, labels: &[&str]) -> Family {
        let labels = labels.iter().map(|l| l.to_string()).collect();
        let desc = Desc::new(
            name.to_string(),
            help.to_string(),
            labels,
            Default::default(),
        )
        // The names are the server's own constants; a test builds every collector.
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
        Family { desc, kind }
    }

    /// A counter family.
    pub fn counter(name: &str, help: &str, labels: &[&str]) -> Family {
        Family::new(name, help, MetricType::COUNTER, labels)
    }

    /// A gauge family.
    pub fn gauge(name: &str, help: &str, labels: &[&str]) -> Family {
        Family::new(name, help, MetricType::GAUGE, labels)
    }

    /// A histogram family.
    pub fn histogram(name: &str, help: &str, labels: &[&str]) -> Family {
        Family::new(name, help, MetricType::HISTOGRAM, labels)
    }

    /// Its descriptor, for `Collector::desc`.
    pub fn desc(&self) -> &Desc {
        &self.desc
    }

    /// The family with these samples.
    pub fn with(&self, samples: Vec<Metric>) -> MetricFamily {
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(self.kind);
        family.set_metric(samples);
        family
    }

    /// The family with one sample and no labels.
    pub fn single(&self, value: impl Into<f64>) -> MetricFamily {
        self.with(vec![self.sample(&[], value)])
    }

    fn labelled(&self, values: &[&str]) -> Metric {
        assert_eq!(
            values.len(),
            self.desc.variable_labels.len(),
            "label values of {}",
            self.desc.fq_name
        );
        let pairs = self
            .desc
            .variable_labels
            .iter()
            .zip(values)
            .map(|(name, value)| {
                let mut pair = LabelPair::default();
                pair.set_name(name.clone());
                pair.set_value(value.to_string());
                pair
            })
            .collect();
        Metric::from_label(pairs)
    }

    /// A counter or gauge sample with these label values (in the family's label order).
    pub fn sample(&self, labels: &[&str], value: impl Into<f64>) -> Metric {
        let mut metric = self.labelled(labels);
        let value = value.into();
        match self.kind {
            MetricType::GAUGE => {
                let mut gauge = Gauge::default();
                gauge.set_value(value);
                metric.set_gauge(gauge);
            }
            _ => {
                let mut counter = Counter::default();
                counter.set_value(value);
                metric.set_counter(counter);
            }
        }
        metric
    }

    /// A histogram sample: the cumulative count at each upper bound in `bounds` and then the
    /// total count (`+Inf`), and the sum of the observations.
    pub fn histogram_sample(
        &self,
        labels: &[&str],
        bounds: &[f64],
        cumulative: &[u64],
        sum: f64,
    ) -> Metric {
        let mut metric = self.labelled(labels);
        let mut histogram = Histogram::default();
        let buckets = bounds
            .iter()
            .zip(cumulative)
            .map(|(bound, count)| {
                let mut bucket = Bucket::default();
                bucket.set_upper_bound(*bound);
                bucket.set_cumulative_count(*count);
                bucket
            })
            .collect();
        histogram.set_bucket(buckets);
        histogram.set_sample_count(cumulative.last().copied().unwrap_or(0));
        histogram.set_sample_sum(sum);
        metric.set_histogram(histogram);
        metric
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, TextEncoder};

    fn text(families: &[MetricFamily]) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(families, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn samples_render_as_their_family_says() {
        let counter = Family::counter("x_total", "Xs.", &["kind"]);
        let gauge = Family::gauge("y", "Y now.", &[]);
        let histogram = Family::histogram("z_seconds", "Z.", &["m"]);
        let page = text(&[
            counter.with(vec![counter.sample(&["a"], 3u32)]),
            gauge.single(2.5),
            histogram.with(vec![histogram.histogram_sample(
                &["q"],
                &[0.1, 1.0],
                &[1, 2, 3],
                4.5,
            )]),
        ]);
        for line in [
            "# TYPE x_total counter",
            "x_total{kind=\"a\"} 3",
            "# TYPE y gauge",
            "y 2.5",
            "# TYPE z_seconds histogram",
            "z_seconds_bucket{m=\"q\",le=\"0.1\"} 1",
            "z_seconds_bucket{m=\"q\",le=\"1\"} 2",
            "z_seconds_bucket{m=\"q\",le=\"+Inf\"} 3",
            "z_seconds_sum{m=\"q\"} 4.5",
            "z_seconds_count{m=\"q\"} 3",
        ] {
            assert!(
                page.lines().any(|l| l == line),
                "{line} missing from\n{page}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "label values")]
    fn a_sample_must_give_every_label() {
        Family::counter("x_total", "Xs.", &["kind"]).sample(&[], 1u32);
    }
}
