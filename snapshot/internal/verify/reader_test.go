package verify

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"github.com/mandate-raft/mandate/snapshot"
)

func sample() ([]byte, uint32) {
	data := make([]byte, 1<<20+17)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	return data, crc32.Checksum(data, Castagnoli)
}

func TestIntactDataReadsToEOF(t *testing.T) {
	data, sum := sample()
	r := NewReader(bytes.NewReader(data), int64(len(data)), sum, "s", nil)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
}

func TestFlippedBitIsErrCorruptAtTheEnd(t *testing.T) {
	data, sum := sample()
	data[len(data)/2] ^= 0x10
	r := NewReader(bytes.NewReader(data), int64(len(data)), sum, "s", nil)
	_, err := io.ReadAll(r)
	if !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("ReadAll of corrupted data: got %v, want ErrCorrupt", err)
	}
	// The verdict sticks.
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("Read after the end: got %v, want ErrCorrupt", err)
	}
}

func TestFlippedBitBeforeAResumePointIsStillCaught(t *testing.T) {
	data, sum := sample()
	data[10] ^= 1
	r := NewReader(bytes.NewReader(data), int64(len(data)), sum, "s", nil)
	if _, err := r.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	_, err := io.ReadAll(r)
	if !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("ReadAll from a resume point past the corruption: got %v, want ErrCorrupt", err)
	}
}

func TestResumedReadOfIntactDataEndsCleanly(t *testing.T) {
	data, sum := sample()
	r := NewReader(bytes.NewReader(data), int64(len(data)), sum, "s", nil)
	if _, err := io.ReadFull(r, make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seek(-100, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data[4900:]) {
		t.Fatalf("resumed ReadAll: %d bytes, %v", len(got), err)
	}
}

func TestShortDataIsErrCorrupt(t *testing.T) {
	data, sum := sample()
	r := NewReader(bytes.NewReader(data[:len(data)-1]), int64(len(data)), sum, "s", nil)
	_, err := io.ReadAll(r)
	if !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("ReadAll of truncated data: got %v, want ErrCorrupt", err)
	}
	if _, err := Checksum(bytes.NewReader(data[:10]), 11); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("Checksum of truncated data: got %v, want ErrCorrupt", err)
	}
}

func TestSeekRejectsBadArguments(t *testing.T) {
	r := NewReader(bytes.NewReader(nil), 0, 0, "s", nil)
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek(-1, start): got nil error")
	}
	if _, err := r.Seek(0, 42); err == nil {
		t.Fatal("Seek with whence 42: got nil error")
	}
	if _, err := r.Read(make([]byte, 4)); err != io.EOF {
		t.Fatalf("Read of empty data: got %v, want io.EOF", err)
	}
}
