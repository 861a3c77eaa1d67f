package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/mandate-raft/mandate/config"
	"github.com/mandate-raft/mandate/logstore"
	logmem "github.com/mandate-raft/mandate/logstore/memory"
	"github.com/mandate-raft/mandate/logstore/ondisk"
	"github.com/mandate-raft/mandate/raft"
	snapfile "github.com/mandate-raft/mandate/snapshot/file"
	"github.com/mandate-raft/mandate/wire"
)

// recoverLockTimeout is how long recover waits for the log's file lock. A
// running node holds it for as long as it runs, so a short wait suffices
// to tell.
const recoverLockTimeout = 500 * time.Millisecond

func newRecoverCmd() *cobra.Command {
	var (
		path    string
		peers   []string
		inspect bool
		yes     bool
	)
	cmd := &cobra.Command{
		Use:   "recover --config FILE (--inspect | [--peers id=addr,...] [--yes])",
		Short: "Offline: show a stopped node's last log position, or rewrite its membership after a lost quorum",
		Long: `recover works on the data directory of a STOPPED node (the one its --config
names); it refuses to run while the node runs.

  mandate recover --config n1.yaml --inspect
      prints where the node's log ends (term and index). Run it on every
      survivor and pick the one with the highest term, then the highest index.

  mandate recover --config n1.yaml [--peers n1=127.0.0.1:7001,...] --yes
      rewrites that node's membership to the given voters (default: the node
      alone at its raft address) and commits its whole log, so that it can
      lead again when the old cluster has lost its quorum for good. Start the
      node with mandate serve afterwards, then add new members with
      mandate cluster add.

This breaks Raft's guarantees on purpose: acknowledged writes that are not
in this node's log are lost, and entries that were never committed become
committed. Run it on ONE node only, and only when the old majority can never
come back. Without --yes it asks for confirmation on the terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError{errors.New("--config is required")}
			}
			if inspect && (len(peers) > 0 || yes) {
				return usageError{errors.New("--inspect changes nothing; it takes no --peers or --yes")}
			}
			cfg, err := config.Load(config.Options{Path: path})
			if err != nil {
				return err
			}
			if cfg.Raft.Store != ondisk.Bolt && cfg.Raft.Store != ondisk.WAL {
				return fmt.Errorf("recover: node %s keeps its log in %q, not on disk; there is nothing to recover", cfg.NodeID, cfg.Raft.Store)
			}
			var conf wire.Configuration
			if !inspect {
				if conf, err = recoveryConfig(cfg, peers); err != nil {
					return err
				}
			}
			st, err := openOffline(cfg, inspect)
			if err != nil {
				return err
			}
			defer st.close()
			index, term, err := raft.LastLogPosition(st.log, st.snaps)
			if err != nil {
				return fmt.Errorf("recover: read the log of %s: %w", cfg.NodeID, err)
			}
			hs, _, err := st.log.HardState()
			if err != nil {
				return fmt.Errorf("recover: read the hard state of %s: %w", cfg.NodeID, err)
			}
			out := cmd.OutOrStdout()
			if inspect {
				fmt.Fprintf(out, "node %s (data %s)\nlast log position: term %d index %d\ncurrent term %d, commit index %d\n",
					cfg.NodeID, cfg.DataDir, term, index, hs.Term, hs.Commit)
				fmt.Fprintln(out, "recover the survivor with the highest term, then the highest index")
				return nil
			}
			warnRecover(cmd.ErrOrStderr(), cfg.NodeID, index, term, conf)
			if !yes {
				ok, err := confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), cfg.NodeID)
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("recover: not confirmed; nothing changed")
				}
			}
			if err := raft.RecoverCluster(st.log, st.snaps, conf); err != nil {
				return fmt.Errorf("recover: %w", err)
			}
			index, term, err = raft.LastLogPosition(st.log, st.snaps)
			if err != nil {
				return fmt.Errorf("recover: read the log back: %w", err)
			}
			fmt.Fprintf(out, "recovered %s: membership %s committed at term %d index %d\nstart it with: mandate serve --config %s\n",
				cfg.NodeID, describeConf(conf), term, index, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "the stopped node's YAML configuration file")
	cmd.Flags().StringSliceVar(&peers, "peers", nil, "the new voters as id=raft-address (repeat or comma-separate; must include this node; default: this node alone)")
	cmd.Flags().BoolVar(&inspect, "inspect", false, "print the node's last log position and change nothing")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}

// recoveryConfig builds the new membership: the --peers given (all
// voters), or this node alone at its advertised raft address.
func recoveryConfig(cfg *config.Config, peers []string) (wire.Configuration, error) {
	var conf wire.Configuration
	if len(peers) == 0 {
		addr := cfg.Raft.Advertise
		if addr == "" {
			addr = cfg.Raft.Bind
		}
		conf.Servers = []wire.Server{{ID: wire.NodeID(cfg.NodeID), Address: addr, Role: wire.Voter}}
		return conf, nil
	}
	self := false
	for _, p := range peers {
		id, addr, ok := strings.Cut(p, "=")
		if !ok || id == "" || addr == "" {
			return conf, usageError{fmt.Errorf("--peers: %q is not id=address", p)}
		}
		self = self || id == cfg.NodeID
		conf.Servers = append(conf.Servers, wire.Server{ID: wire.NodeID(id), Address: addr, Role: wire.Voter})
	}
	if !self {
		return conf, usageError{fmt.Errorf("--peers must include this node (%s), which will lead the recovered cluster", cfg.NodeID)}
	}
	if err := conf.Validate(); err != nil {
		return conf, usageError{fmt.Errorf("--peers: %w", err)}
	}
	return conf, nil
}

// offlineStores are a stopped node's log and snapshot stores.
type offlineStores struct {
	log   logstore.Store
	snaps *snapfile.Store
}

func (s offlineStores) close() { _ = s.log.Close() }

// openOffline opens the node's stores, failing when the node has none or
// when a running node holds its log. readOnly (--inspect) stands an empty
// in-memory log in for a missing one rather than create the file.
func openOffline(cfg *config.Config, readOnly bool) (offlineStores, error) {
	// The data directory must exist; the log inside it need not: a node
	// restored from a backup of its snapshots alone has none yet.
	if _, err := os.Stat(cfg.DataDir); err != nil {
		return offlineStores{}, fmt.Errorf("recover: node %s has no data directory (is data_dir right?): %w", cfg.NodeID, err)
	}
	logPath := filepath.Join(cfg.DataDir, "raft")
	quiet := hclog.NewNullLogger()
	openSnaps := func() (*snapfile.Store, error) {
		snaps, err := snapfile.Open(filepath.Join(cfg.DataDir, "snapshots"), snapfile.Options{Retain: cfg.Raft.Snapshot.Retain, Logger: quiet})
		if err != nil {
			return nil, fmt.Errorf("recover: open the snapshots of %s: %w", cfg.NodeID, err)
		}
		return snaps, nil
	}
	if _, err := os.Stat(logPath); readOnly && errors.Is(err, os.ErrNotExist) {
		// No log, so no node runs on this directory.
		snaps, err := openSnaps()
		if err != nil {
			return offlineStores{}, err
		}
		return offlineStores{log: logmem.New(), snaps: snaps}, nil
	}
	// The log's lock first: opening the snapshot store clears unfinished
	// snapshot files, which must not happen under a running node.
	// The engine whose files are there, whatever the configuration says
	// (the node itself refuses a mismatch when it starts).
	engine, err := ondisk.Detect(logPath)
	if err != nil {
		return offlineStores{}, fmt.Errorf("recover: the log of %s: %w", cfg.NodeID, err)
	}
	if engine == "" {
		engine = cfg.Raft.Store
		if engine != ondisk.WAL {
			engine = ondisk.Bolt
		}
	}
	store, err := ondisk.Open(logPath, engine, ondisk.Options{Logger: quiet, LockTimeout: recoverLockTimeout})
	if errors.Is(err, ondisk.ErrLocked) {
		return offlineStores{}, fmt.Errorf("recover: node %s is running (its log %s is locked): stop it first: %w", cfg.NodeID, logPath, err)
	}
	if err != nil {
		return offlineStores{}, fmt.Errorf("recover: open the log of %s: %w", cfg.NodeID, err)
	}
	snaps, err := openSnaps()
	if err != nil {
		_ = store.Close()
		return offlineStores{}, err
	}
	return offlineStores{log: store, snaps: snaps}, nil
}

func describeConf(conf wire.Configuration) string {
	parts := make([]string, 0, len(conf.Servers))
	for _, s := range conf.Servers {
		parts = append(parts, fmt.Sprintf("%s=%s", s.ID, s.Address))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// warnRecover tells the operator, loudly, what the rewrite risks.
func warnRecover(w io.Writer, id string, index, term uint64, conf wire.Configuration) {
	fmt.Fprintf(w, `
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  DANGER: OFFLINE MEMBERSHIP REWRITE OF NODE %s
!!
!!  Its log ends at term %d index %d. Every entry in it becomes
!!  committed, and the cluster becomes %s.
!!
!!  * Writes acknowledged to clients but missing from this log are LOST.
!!  * Run this on ONE survivor only, the most up-to-date (recover
!!    --inspect on each). Two recovered nodes make two clusters.
!!  * Only when the old majority can NEVER come back: if it does, two
!!    clusters accept writes under the same ids.
!!  * Old members not listed must be wiped before they rejoin.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

`, id, term, index, describeConf(conf))
}

// confirm asks the operator to type the node's id.
func confirm(in io.Reader, w io.Writer, id string) (bool, error) {
	fmt.Fprintf(w, "type the node id (%s) to go ahead: ", id)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("recover: read the confirmation: %w", err)
	}
	fmt.Fprintln(w)
	return strings.TrimSpace(line) == id, nil
}
