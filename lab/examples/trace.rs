use seismo_lab::business::generate::{BusinessOptions, generate};
use seismo_shared::data::{Aggregator, Schema};
use seismo_shared::engine::{EngineConfig, SeriesState, Sensitivity};
use seismo_shared::slices::{self, ANY};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args[1].parse().unwrap();
    let want: Vec<String> = args[2].split(',').map(|s| if s == "*" { ANY.to_string() } else { s.to_string() }).collect();
    let from: i64 = args[3].parse().unwrap();
    let to: i64 = args[4].parse().unwrap();
    let m: usize = args[5].parse().unwrap();
    let d = generate(BusinessOptions::new(seed));
    let ms = d.metric_set();
    let schema = Schema::from_metric_set(&ms).unwrap();
    let mut agg = Aggregator::new(&schema);
    agg.read_reader(std::io::Cursor::new(d.csv().into_bytes())).unwrap();
    let mut data = agg.finish();
    let functions = schema.functions();
    let config = EngineConfig::for_frequency(schema.frequency).with_threshold(Sensitivity::DEFAULT);
    let mut st = SeriesState::new(&config);
    for i in &mut data { slices::extend(&functions, &mut i.series); }
    for i in &data {
        let v = i.series.get(&want).and_then(|v| v[m]);
        let s = st.observe(&config, i.start, v);
        if i.start >= from && i.start <= to {
            if let Some(s) = s { println!("{} x={:.1} e={:.1} sigma={:.2} z={:.2} sev={:.1} [{:.1},{:.1}]", seismo_shared::model::timestamp_string(i.start), s.value, s.expected, s.sigma, s.z, s.severity, s.lower, s.upper); }
        }
    }
}
