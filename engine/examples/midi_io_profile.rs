//! Imports and exports one MIDI file a number of times; a target for profilers
//! (`valgrind --tool=callgrind`), which count instructions whatever else the machine does.
//! Usage: midi_io_profile FILE.mid [ROUNDS]

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: midi_io_profile FILE.mid [ROUNDS]")?;
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let bytes = std::fs::read(&path)?;
    let mut notes = 0;
    for _ in 0..rounds {
        let song = cadenza_engine::midi::parse_song(&bytes)?;
        notes += song.note_count();
        let out = cadenza_engine::midi::song_to_bytes(&song)?;
        notes += out.len() % 2;
    }
    println!("{notes}");
    Ok(())
}
