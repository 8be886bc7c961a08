package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Backoff bounds between reconnection attempts of a Listener.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// Listener holds one dedicated connection that LISTENs on the channels its
// subscribers asked for and fans notifications out to them.
//
// Deliveries are wakeups, not a message log: each subscriber has a buffer
// (of one, unless it asks for more) and a delivery to a full buffer replaces
// what is pending with an empty wakeup, so a slow subscriber never blocks the
// others. On a wakeup a subscriber re-reads the state it follows
// (ReadAll from its cursor, say). Every subscriber is also woken after each
// (re)connection, since notifications may have been missed meanwhile, and
// after LISTEN takes effect on a channel it is the first to subscribe to.
type Listener struct {
	config *pgx.ConnConfig
	logger *slog.Logger

	mu        sync.Mutex
	subs      map[string]map[*subscription]struct{}
	interrupt context.CancelFunc // ends the current wait, so new channels get LISTENed
	running   bool
}

type subscription struct {
	ch   chan string
	once sync.Once
}

// NewListener returns a Listener that connects with pool's connection
// settings; it does nothing until Run. A nil logger discards logs.
func NewListener(pool *pgxpool.Pool, logger *slog.Logger) *Listener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{
		config: pool.Config().ConnConfig,
		logger: logger,
		subs:   make(map[string]map[*subscription]struct{}),
	}
}

// Subscribe returns a channel that receives the payload of notifications on
// channel (an empty string for the wakeups the Listener makes itself), and a
// function that ends the subscription and closes the returned channel. It
// may be called before or while Run runs. The channel holds one wakeup: a
// subscriber that re-reads its state on each wakeup needs no more.
func (l *Listener) Subscribe(channel string) (<-chan string, func()) {
	return l.SubscribeQueued(channel, 1)
}

// SubscribeQueued is Subscribe with room for n payloads, for a subscriber
// that follows the state the payloads carry (the projections' Waiter reads
// each projector's checkpoint off them): it gets every payload, in order,
// while it stays within n of the Listener. A delivery that finds the buffer
// full replaces everything pending with one empty wakeup, the cue to re-read
// the state; a payload is never dropped without one.
func (l *Listener) SubscribeQueued(channel string, n int) (<-chan string, func()) {
	sub := &subscription{ch: make(chan string, max(n, 1))}
	l.mu.Lock()
	set, ok := l.subs[channel]
	if !ok {
		set = make(map[*subscription]struct{})
		l.subs[channel] = set
		if l.interrupt != nil {
			l.interrupt()
		}
	}
	set[sub] = struct{}{}
	l.mu.Unlock()

	cancel := func() {
		sub.once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			delete(l.subs[channel], sub)
			close(sub.ch)
		})
	}
	return sub.ch, cancel
}

// Run keeps the listening connection up until ctx ends, reconnecting with
// backoff when it is lost. It returns nil when ctx ends, and an error if the
// Listener is already running.
func (l *Listener) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.running {
		l.mu.Unlock()
		return errors.New("listener: already running")
	}
	l.running = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.running = false
		l.mu.Unlock()
	}()

	backoff := listenMinBackoff
	for {
		connected, err := l.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			backoff = listenMinBackoff
		}
		l.logger.Warn("event listener: connection lost", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// session runs one connection until it fails or ctx ends; connected reports
// whether it got as far as listening.
func (l *Listener) session(ctx context.Context) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, l.config.Copy())
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()

	listened := make(map[string]bool)
	woke := false
	for {
		todo, waitCtx, stopWait := l.nextTurn(ctx, listened)
		if len(todo) > 0 {
			for _, ch := range todo {
				if _, err := conn.Exec(ctx, "listen "+pgx.Identifier{ch}.Sanitize()); err != nil {
					return woke, fmt.Errorf("listen %s: %w", ch, err)
				}
				listened[ch] = true
			}
			if woke {
				l.wake(todo)
			}
			continue
		}
		if !woke {
			// Anything may have happened while we were not listening.
			l.logger.Debug("event listener: listening", "channels", len(listened))
			l.wake(nil)
			woke = true
		}
		n, err := conn.WaitForNotification(waitCtx)
		stopWait()
		switch {
		case err == nil:
			l.deliver(n.Channel, n.Payload)
		case ctx.Err() != nil:
			return true, ctx.Err()
		case waitCtx.Err() != nil && !conn.IsClosed():
			// Interrupted by Subscribe: loop to LISTEN on the new channel.
		default:
			return true, fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// nextTurn returns the subscribed channels not yet in listened or, if there
// are none, a context for waiting that Subscribe cancels when a new channel
// needs a LISTEN. Both are decided under one lock so no channel is missed.
func (l *Listener) nextTurn(ctx context.Context, listened map[string]bool) ([]string, context.Context, context.CancelFunc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var todo []string
	for ch := range l.subs {
		if !listened[ch] {
			todo = append(todo, ch)
		}
	}
	if len(todo) > 0 {
		return todo, nil, nil
	}
	waitCtx, cancel := context.WithCancel(ctx)
	l.interrupt = cancel
	return nil, waitCtx, func() {
		l.mu.Lock()
		l.interrupt = nil
		l.mu.Unlock()
		cancel()
	}
}

// deliver hands payload to every subscriber of channel. A subscriber whose
// buffer is full is behind: what it has pending is replaced by one empty
// wakeup (re-read the state), so it never misses a payload unawares. Only
// deliver sends, under l.mu, so once drained the buffer has room.
func (l *Listener) deliver(channel, payload string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for sub := range l.subs[channel] {
		select {
		case sub.ch <- payload:
			continue
		default:
		}
	drain:
		for {
			select {
			case <-sub.ch:
			default:
				break drain
			}
		}
		sub.ch <- ""
	}
}

// wake sends an empty wakeup to the subscribers of channels, or of every
// channel when channels is nil.
func (l *Listener) wake(channels []string) {
	if channels == nil {
		l.mu.Lock()
		for ch := range l.subs {
			channels = append(channels, ch)
		}
		l.mu.Unlock()
	}
	for _, ch := range channels {
		l.deliver(ch, "")
	}
}
