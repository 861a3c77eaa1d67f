package raft

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigZeroValueWithIDIsValid(t *testing.T) {
	if err := (Config{ID: "n1"}).Validate(); err != nil {
		t.Fatalf("Config{ID} should be valid with defaults, got %v", err)
	}
	c := Config{ID: "n1"}.withDefaults()
	if c.HeartbeatTimeout != DefaultHeartbeatTimeout || c.ElectionTimeout != DefaultElectionTimeout {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if c.DiskStallTimeout != c.ElectionTimeout {
		t.Fatalf("DiskStallTimeout should default to ElectionTimeout, got %v", c.DiskStallTimeout)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{
		HeartbeatTimeout: time.Second,
		ElectionTimeout:  500 * time.Millisecond,
		MaxInflight:      -1,
		MaxAppendEntries: -2,
		DiskStallTimeout: -time.Second,
		SnapshotInterval: -time.Second,
	}.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("error does not wrap ErrInvalidConfig: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"ID is required", "must exceed HeartbeatTimeout", "MaxInflight", "MaxAppendEntries", "DiskStallTimeout", "SnapshotInterval"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
}

func TestConfigTicksKeepElectionAboveHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		hb, el     time.Duration
		wantHB     int
		wantElMin  int
		wantTickLE time.Duration
	}{
		{100 * time.Millisecond, time.Second, 1, 10, 100 * time.Millisecond},
		{10 * time.Millisecond, 100 * time.Millisecond, 1, 10, 10 * time.Millisecond},
		{100 * time.Millisecond, 150 * time.Millisecond, 7, 10, 15 * time.Millisecond},
	} {
		c := Config{ID: "n1", HeartbeatTimeout: tc.hb, ElectionTimeout: tc.el}.withDefaults()
		tick, hb, el, stall := c.ticks()
		if tick > tc.wantTickLE || hb != tc.wantHB || el < tc.wantElMin || el <= hb || stall < 1 {
			t.Errorf("hb=%v el=%v: tick=%v hb=%d el=%d stall=%d", tc.hb, tc.el, tick, hb, el, stall)
		}
	}
}
