package ledger

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/mandate-raft/mandate/fsm"
)

// A ledger snapshot: magic, version, the deposited and withdrawn totals,
// the account count, then each account in id order as its id (uvarint
// length + bytes) and balance (zigzag varint). The order makes the bytes a
// function of the state alone, so equal states give equal snapshots.
var snapMagic = [4]byte{0xc1, 'L', 'D', 'G'}

const snapVersion = 1

type snapshot struct {
	accounts             *btree // frozen
	deposited, withdrawn int64
}

// Snapshot freezes the account tree: O(1), and later Applies copy the
// nodes they change instead of touching the frozen ones.
func (s *state) Snapshot() (fsm.Snapshot, error) {
	return &snapshot{accounts: s.accounts.freeze(), deposited: s.deposited, withdrawn: s.withdrawn}, nil
}

// Persist writes the frozen state to sink.
func (s *snapshot) Persist(sink io.Writer) error {
	w := bufio.NewWriterSize(sink, 256<<10)
	buf := make([]byte, 0, 64)
	buf = append(buf, snapMagic[:]...)
	buf = append(buf, snapVersion)
	buf = binary.AppendVarint(buf, s.deposited)
	buf = binary.AppendVarint(buf, s.withdrawn)
	buf = binary.AppendUvarint(buf, uint64(s.accounts.size))
	_, err := w.Write(buf)
	s.accounts.ascend("", func(it item) bool {
		buf = binary.AppendUvarint(buf[:0], uint64(len(it.id)))
		buf = append(buf, it.id...)
		buf = binary.AppendVarint(buf, it.balance)
		_, err = w.Write(buf)
		return err == nil
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fmt.Errorf("ledger: write snapshot: %w", err)
	}
	return nil
}

// Release drops the frozen view.
func (s *snapshot) Release() { s.accounts = nil }

// Restore replaces the state with the snapshot in r, after checking that it
// is consistent: valid ids in strictly increasing order, no negative
// balance, balances summing to deposited - withdrawn.
func (s *state) Restore(r io.Reader) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 256<<10)
	}
	bad := func(what string, err error) error {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrBadSnapshot, what, err)
		}
		return fmt.Errorf("%w: %s", ErrBadSnapshot, what)
	}
	var head [5]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return bad("header", err)
	}
	if [4]byte(head[:4]) != snapMagic || head[4] != snapVersion {
		return bad("not a ledger snapshot (or an unknown version)", nil)
	}
	deposited, err := binary.ReadVarint(br)
	if err != nil {
		return bad("deposited", err)
	}
	withdrawn, err := binary.ReadVarint(br)
	if err != nil {
		return bad("withdrawn", err)
	}
	if deposited < 0 || withdrawn < 0 || withdrawn > deposited {
		return bad(fmt.Sprintf("totals deposited %d, withdrawn %d", deposited, withdrawn), nil)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return bad("account count", err)
	}
	// n comes from the snapshot: grow to it rather than trust it.
	items := make([]item, 0, min(n, 1<<20))
	var prev string
	var sum int64
	idBuf := make([]byte, MaxAccountLen)
	for i := uint64(0); i < n; i++ {
		l, err := binary.ReadUvarint(br)
		if err != nil {
			return bad("account id", err)
		}
		if l == 0 || l > MaxAccountLen {
			return bad(fmt.Sprintf("account id of %d bytes", l), nil)
		}
		if _, err := io.ReadFull(br, idBuf[:l]); err != nil {
			return bad("account id", err)
		}
		id := string(idBuf[:l])
		if i > 0 && id <= prev {
			return bad(fmt.Sprintf("account %q out of order", id), nil)
		}
		if err := ValidAccount(id); err != nil {
			return bad("account id", err)
		}
		bal, err := binary.ReadVarint(br)
		if err != nil {
			return bad("balance", err)
		}
		if bal < 0 || bal > deposited-sum {
			return bad(fmt.Sprintf("account %q balance %d does not fit the totals", id, bal), nil)
		}
		sum += bal
		items = append(items, item{id: id, balance: bal})
		prev = id
	}
	if sum != deposited-withdrawn {
		return bad(fmt.Sprintf("balances sum to %d, totals say %d", sum, deposited-withdrawn), nil)
	}
	s.accounts, s.deposited, s.withdrawn = buildSorted(items), deposited, withdrawn
	return nil
}
