package raft

import (
	"errors"

	"github.com/mandate-raft/mandate/raft/internal/core"
)

// maybePromoteLearners proposes AddVoter for the first learner whose log
// is within LearnerMaxLag entries of the leader's last index and that is
// being replicated to normally (Config.AutoPromoteLearners). It runs on
// the event loop of the leader, at most once per heartbeat interval while
// peers answer. One change at a time: the core refuses another until the
// previous one commits, and the next check tries again.
func (n *Node) maybePromoteLearners() {
	if n.loop.soft.State != core.StateLeader {
		return
	}
	conf := n.pub.config.Load()
	if conf == nil || len(conf.Learners()) == 0 {
		return
	}
	st := n.rn.Status()
	if st.LeadTransferee != "" || st.ConfigIndex > st.HardState.Commit {
		return // a transfer, or an uncommitted change, is under way
	}
	for _, id := range st.Config.Learners() {
		pr, ok := st.Progress[id]
		if !ok || pr.State != core.ProgressReplicate || !pr.RecentActive || pr.Match+n.cfg.LearnerMaxLag < st.LastIndex {
			continue
		}
		srv, _ := st.Config.Server(id)
		err := n.rn.ProposeConfChange(core.ConfChange{Op: core.AddVoter, ID: id, Address: srv.Address})
		switch {
		case err == nil:
			n.log.Info("promoting caught-up learner", "learner", string(id), "match", pr.Match, "last-index", st.LastIndex)
		case errors.Is(err, core.ErrConfChangePending), errors.Is(err, core.ErrProposalDropped):
			n.log.Debug("learner promotion deferred", "learner", string(id), "error", err)
		default:
			n.log.Warn("learner promotion refused", "learner", string(id), "error", err)
		}
		return
	}
}
