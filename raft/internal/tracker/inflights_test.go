package tracker

import "testing"

func TestInflightsWindowFillsFreesAndWraps(t *testing.T) {
	in := NewInflights(3)
	for _, i := range []uint64{5, 8, 10} {
		if in.Full() {
			t.Fatalf("full before adding %d", i)
		}
		in.Add(i)
	}
	if !in.Full() || in.Count() != 3 {
		t.Fatalf("count %d full %v, want 3 and full", in.Count(), in.Full())
	}
	// An acknowledgement of 8 frees the appends ending at 5 and 8.
	in.FreeLE(8)
	if in.Count() != 1 || in.Full() {
		t.Fatalf("after FreeLE(8): count %d", in.Count())
	}
	// The ring wraps around.
	in.Add(12)
	in.Add(15)
	in.FreeLE(11)
	if in.Count() != 2 {
		t.Fatalf("after wrap and FreeLE(11): count %d, want 2", in.Count())
	}
	in.FreeFirstOne()
	if in.Count() != 1 {
		t.Fatalf("after FreeFirstOne: count %d, want 1", in.Count())
	}
	in.FreeLE(100)
	in.FreeFirstOne() // on empty: no-op
	if in.Count() != 0 {
		t.Fatalf("count %d, want 0", in.Count())
	}
}

func TestInflightsGrowsOnDemandUpToItsSize(t *testing.T) {
	in := NewInflights(100)
	for i := uint64(1); i <= 100; i++ {
		in.Add(i)
	}
	if !in.Full() || len(in.buf) != 100 {
		t.Fatalf("full %v buffer %d, want full at 100", in.Full(), len(in.buf))
	}
	in.FreeLE(50)
	for i := uint64(101); i <= 150; i++ {
		in.Add(i)
	}
	in.FreeLE(149)
	if in.Count() != 1 || in.buf[in.start] != 150 {
		t.Fatalf("count %d oldest %d, want only 150 left", in.Count(), in.buf[in.start])
	}
}

func TestInflightsAddWhenFullIsABrokenInvariant(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Add on a full window did not panic")
		}
	}()
	in := NewInflights(1)
	in.Add(1)
	in.Add(2)
}
