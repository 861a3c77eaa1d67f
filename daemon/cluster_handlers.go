package daemon

import (
	"net/http"
	"strings"

	"github.com/mandate-raft/mandate/client"
	"github.com/mandate-raft/mandate/wire"
)

// clusterRoutes are served by every node whatever its FSM.
func (s *Server) clusterRoutes() []route {
	return []route{
		{"GET /v1/status", s.handleStatus},
		{"GET /v1/cluster/members", s.handleMembers},
		{"POST /v1/cluster/members", s.handleAddMember},
		{"DELETE /v1/cluster/members/{id}", s.handleRemoveMember},
		{"POST /v1/cluster/transfer-leadership", s.handleTransferLeadership},
		{"POST /v1/cluster/snapshot", s.handleSnapshot},
		{"GET /healthz", s.handleHealthz},
		{"GET /readyz", s.handleReadyz},
	}
}

func members(c wire.Configuration) []client.Member {
	out := make([]client.Member, 0, len(c.Servers))
	for _, sv := range c.Servers {
		out = append(out, client.Member{ID: string(sv.ID), Address: sv.Address, Role: sv.Role.String()})
	}
	return out
}

func ids(in []wire.NodeID) []string {
	var out []string
	for _, id := range in {
		out = append(out, string(id))
	}
	return out
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) error {
	st := s.replica.Status()
	writeJSON(w, http.StatusOK, client.Status{
		ID: string(st.ID), State: st.State, Term: st.Term,
		LeaderID: string(st.Leader), LeaderAddress: st.LeaderAddress,
		CommitIndex: st.Commit, AppliedIndex: st.Applied, LastIndex: st.LastIndex,
		FSM: s.cfg.FSMName, Members: members(st.Config), Version: s.cfg.Version,
		AwaitingFounders: ids(st.AwaitingFounders),
	})
	return nil
}

func (s *Server) handleMembers(w http.ResponseWriter, r *http.Request) error {
	st := s.replica.Status()
	writeJSON(w, http.StatusOK, client.MembersResponse{Members: members(st.Config), LeaderID: string(st.Leader)})
	return nil
}

func (s *Server) handleAddMember(w http.ResponseWriter, r *http.Request) error {
	var req client.AddMemberRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if err := validNodeID(req.ID); err != nil {
		return err
	}
	if req.Address == "" {
		return badRequest("address (the new server's Raft address, host:port) is required")
	}
	sv := wire.Server{ID: wire.NodeID(req.ID), Address: req.Address, Role: wire.Voter}
	switch strings.ToLower(req.Role) {
	case "", "voter":
	case "learner":
		sv.Role = wire.Learner
	default:
		return badRequest("role must be \"voter\" or \"learner\", not %q", req.Role)
	}
	ctx, cancel := withTimeout(r, s.cfg.ApplyTimeout)
	defer cancel()
	if err := s.replica.AddServer(ctx, sv); err != nil {
		return err
	}
	return s.handleMembers(w, r)
}

func (s *Server) handleRemoveMember(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := validNodeID(id); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, s.cfg.ApplyTimeout)
	defer cancel()
	if err := s.replica.RemoveServer(ctx, wire.NodeID(id)); err != nil {
		return err
	}
	return s.handleMembers(w, r)
}

func (s *Server) handleTransferLeadership(w http.ResponseWriter, r *http.Request) error {
	var req client.TransferLeadershipRequest
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &req); err != nil {
			return err
		}
	}
	if req.To != "" {
		if err := validNodeID(req.To); err != nil {
			return err
		}
	}
	ctx, cancel := withTimeout(r, s.cfg.ApplyTimeout)
	defer cancel()
	lead, err := s.replica.TransferLeadership(ctx, wire.NodeID(req.To))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, client.TransferLeadershipResponse{LeaderID: string(lead)})
	return nil
}

func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength != 0 {
		var empty struct{}
		if err := decodeBody(w, r, &empty); err != nil {
			return err
		}
	}
	ctx, cancel := withTimeout(r, s.cfg.ApplyTimeout)
	defer cancel()
	meta, err := s.replica.Snapshot(ctx)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, client.SnapshotResponse{Index: meta.Index, Term: meta.Term})
	return nil
}

// handleHealthz answers 200 while the node runs (its Raft node has not
// stopped), whether or not it can serve requests.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	if st := s.replica.Status(); st.Stopped {
		return &apiError{status: http.StatusServiceUnavailable, code: client.CodeUnavailable, message: "the raft node has stopped"}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyLag is how far the applied index may trail the commit index on a
// ready node: a busy node always trails a little, and readiness should not
// flap with every batch.
const readyLag = 1024

// handleReadyz answers 200 when the node can serve requests: it runs,
// knows a leader and has applied all but at most readyLag of the entries
// it knows committed.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	st := s.replica.Status()
	switch {
	case st.Stopped:
		return &apiError{status: http.StatusServiceUnavailable, code: client.CodeUnavailable, message: "the raft node has stopped"}
	case st.Leader == wire.None:
		return &apiError{status: http.StatusServiceUnavailable, code: client.CodeNoLeader, message: "no leader known"}
	case st.Commit > st.Applied+readyLag:
		return &apiError{status: http.StatusServiceUnavailable, code: client.CodeUnavailable,
			message: "catching up: applied " + itoa(st.Applied) + " of " + itoa(st.Commit) + " committed entries"}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "leader_id": string(st.Leader)})
	return nil
}
