#!/usr/bin/env python3
"""MIDI interop with pretty_midi and mido, driven by tests/tests/interop.rs.

  interop.py read FILE        -> JSON: the notes pretty_midi and mido each read from FILE
  interop.py write-pm FILE    -> writes FILE with pretty_midi, prints the notes it wrote
  interop.py write-mido FILE  -> writes FILE with mido (type 0, running status), prints its notes

Notes are [track_or_instrument, channel, program, start_tick, end_tick, pitch, velocity].
"""
import json
import sys

import mido
import pretty_midi


def read_pretty_midi(path):
    pm = pretty_midi.PrettyMIDI(path)
    notes = []
    for index, inst in enumerate(pm.instruments):
        for n in inst.notes:
            notes.append([index, 9 if inst.is_drum else -1, int(inst.program), int(pm.time_to_tick(n.start)), int(pm.time_to_tick(n.end)), int(n.pitch), int(n.velocity)])
    return {"resolution": pm.resolution, "notes": sorted(notes)}


def read_mido(path):
    mid = mido.MidiFile(path)
    notes = []
    for index, track in enumerate(mid.tracks):
        tick, sounding, programs = 0, {}, {}
        for msg in track:
            tick += msg.time
            if msg.type == "program_change":
                programs.setdefault(msg.channel, msg.program)
            elif msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                queue = sounding.get((msg.channel, msg.note))
                if queue:
                    start, velocity = queue.pop(0)
                    notes.append([index, msg.channel, programs.get(msg.channel, 0), start, tick, msg.note, velocity])
    return {"resolution": mid.ticks_per_beat, "type": mid.type, "notes": sorted(notes)}


def write_pretty_midi(path):
    pm = pretty_midi.PrettyMIDI(resolution=384, initial_tempo=96.0)
    written = []
    for index, (program, is_drum, base) in enumerate([(0, False, 48), (40, False, 64), (0, True, 36)]):
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=f"part {index}")
        for i in range(24):
            start = i * 0.3125 + 0.05 * (i % 3)
            end = start + 0.2 + 0.1 * (i % 4)
            pitch = base + (i * 5) % 12
            inst.notes.append(pretty_midi.Note(velocity=30 + 4 * i, pitch=pitch, start=start, end=end))
        pm.instruments.append(inst)
    pm.write(path)
    return read_pretty_midi(path)


def write_mido(path):
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=600000, time=0))
    track.append(mido.Message("program_change", channel=2, program=71, time=0))
    events = []
    for i in range(16):
        start, end = i * 48, i * 48 + 40
        events.append((start, 1, mido.Message("note_on", channel=2, note=60 + i, velocity=64 + i)))
        # note_on with velocity 0 as note-off, as many sequencers write it
        events.append((end, 0, mido.Message("note_on", channel=2, note=60 + i, velocity=0)))
        events.append((start, 1, mido.Message("note_on", channel=0, note=40, velocity=90)))
        events.append((end + 4, 0, mido.Message("note_off", channel=0, note=40, velocity=0)))
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    mid.save(path)
    return read_mido(path)


def main():
    command, path = sys.argv[1], sys.argv[2]
    if command == "read":
        out = {"pretty_midi": read_pretty_midi(path), "mido": read_mido(path)}
    elif command == "write-pm":
        out = write_pretty_midi(path)
    elif command == "write-mido":
        out = write_mido(path)
    else:
        raise SystemExit(f"unknown command {command}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
