package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard-pbx/switchboard/internal/component"
)

type peerKey struct{}

var _ component.Component = (*SocketServer)(nil)

// SocketServer serves the admin API on the control socket for the CLI: every
// request comes from the peer's local user, as an admin.
type SocketServer struct {
	component.Base
	path string
	log  *slog.Logger
	srv  *http.Server
	ln   net.Listener
}

// NewSocketServer prepares the control socket at path, serving h (the HTTPS
// routes, of which the CLI uses the admin API).
func NewSocketServer(path string, h http.Handler, log *slog.Logger) *SocketServer {
	s := &SocketServer{path: path, log: log}
	s.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey{}, peerName(c))
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name, _ := r.Context().Value(peerKey{}).(string)
			if name == "" {
				writeError(w, http.StatusForbidden, "", "cannot identify the peer of the control socket")
				return
			}
			// Whoever can open the 0600 socket is root or the daemon's own user.
			p := Principal{User: name, Role: RoleAdmin, IP: "local"}
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
		}),
	}
	return s
}

// peerName is "cli:<user>" for the process on the other end of a unix connection.
func peerName(c net.Conn) string {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ""
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ""
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return ""
	}
	uid := strconv.Itoa(int(cred.Uid))
	if u, err := user.LookupId(uid); err == nil {
		return "cli:" + u.Username
	}
	return "cli:uid" + uid
}

// Name is the control socket's component name.
func (s *SocketServer) Name() string { return "socket" }

// Bind binds the socket, replacing a stale one left by a crash but refusing to
// steal one that a running daemon still answers on.
func (s *SocketServer) Bind(context.Context) error {
	if c, err := net.DialTimeout("unix", s.path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("admin: control socket %s is in use: is another switchboard running?", s.path)
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("admin: remove stale socket: %w", err)
	}
	old := unix.Umask(0o177)
	ln, err := net.Listen("unix", s.path)
	unix.Umask(old)
	if err != nil {
		return fmt.Errorf("admin: control socket: %w", err)
	}
	s.ln = ln
	return nil
}

// Serve answers on the socket until ctx ends.
func (s *SocketServer) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Bind(ctx); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("listening", "path", s.path)
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		s.srv.Shutdown(sctx) //nolint:errcheck // exiting anyway
		os.Remove(s.path)
		s.ln = nil
		return nil
	case err := <-errc:
		return fmt.Errorf("admin: control socket: %w", err)
	}
}
