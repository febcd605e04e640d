package gateway_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Slow clients against a server configured like serve's, with its two
// read timeouts shortened (serve: ReadHeaderTimeout 10 s, ReadTimeout
// 60 s; here 0.5 s and 2 s): connections that send their header or body too
// slowly are closed at those timeouts, and other clients are served
// meanwhile.
const (
	slowHeaderTimeout = 500 * time.Millisecond
	slowReadTimeout   = 2 * time.Second
	// slack is how much later than its timeout a connection may close on
	// a busy machine.
	slack = 2 * time.Second
)

func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	s := setupLikeServe(t, slowHeaderTimeout, slowReadTimeout)
	b := s.bundle
	before := traces(t, b)

	// quickRequests checks that other clients get answers quickly while
	// the slow ones hold their connections.
	quickRequests := func(t *testing.T) {
		t.Helper()
		for range 3 {
			start := time.Now()
			resp, err := http.Get(b.url + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			env := send(t, b.tc3(t, reqOpts{body: `{"Month":"2024-12","FileType":"L9"}`}))
			if took := time.Since(start); resp.StatusCode != http.StatusOK || code(env) != "InvalidParameter" || took > slowHeaderTimeout {
				t.Errorf("a normal client during the attack: healthz %d, API %s, in %v", resp.StatusCode, code(env), took)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	t.Run("Slowloris", func(t *testing.T) {
		t.Parallel()
		const conns = 64
		var wg sync.WaitGroup
		closedAfter := make([]time.Duration, conns)
		errs := make([]error, conns)
		for i := range conns {
			wg.Go(func() { closedAfter[i], errs[i] = slowHeader(b.host) })
		}
		time.Sleep(50 * time.Millisecond) // every connection is open and trickling
		quickRequests(t)
		wg.Wait()
		for i := range conns {
			switch {
			case errs[i] != nil:
				t.Errorf("connection %d: %v", i, errs[i])
			case closedAfter[i] < slowHeaderTimeout-100*time.Millisecond || closedAfter[i] > slowHeaderTimeout+slack:
				t.Errorf("connection %d closed after %v, want about ReadHeaderTimeout (%v)", i, closedAfter[i], slowHeaderTimeout)
			}
		}
	})

	t.Run("BodyOneBytePerSecond", func(t *testing.T) {
		t.Parallel()
		const conns = 4
		var wg sync.WaitGroup
		results := make([]trickleResult, conns)
		for i := range conns {
			wg.Go(func() { results[i] = trickleBody(t, b) })
		}
		time.Sleep(100 * time.Millisecond)
		quickRequests(t)
		wg.Wait()
		for i, r := range results {
			switch {
			case r.err != nil:
				t.Errorf("connection %d: %v", i, r.err)
			case r.closedAfter < slowReadTimeout-100*time.Millisecond || r.closedAfter > slowReadTimeout+slack:
				t.Errorf("connection %d closed after %v, want about ReadTimeout (%v)", i, r.closedAfter, slowReadTimeout)
			case r.code != "" && r.code != "InvalidRequest":
				t.Errorf("connection %d answered %s, want InvalidRequest or no answer", i, r.code)
			}
			t.Logf("connection %d: closed after %v, %d body bytes sent, answer %q", i, r.closedAfter.Round(time.Millisecond), r.sent, r.code)
		}
	})

	t.Cleanup(func() {
		if after := traces(t, b); after != before {
			t.Errorf("slow clients left a trace: before %+v, after %+v", before, after)
		}
	})
}

// slowHeader opens a connection, starts a request and then sends one
// more header byte every 100 ms (at most 100), never finishing the
// header. It returns how long after connecting the server closed the
// connection, having sent nothing.
func slowHeader(host string) (time.Duration, error) {
	c, err := net.Dial("tcp", host)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: "+host+"\r\nX-Slow: "); err != nil {
		return 0, err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for range 100 {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(start.Add(slowHeaderTimeout + slack + time.Second))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return 0, fmt.Errorf("the server kept the connection open for %v", time.Since(start))
	case n > 0:
		return 0, fmt.Errorf("the server sent %d bytes to a client that never finished its header", n)
	}
	return time.Since(start), nil // EOF, or a reset: closed either way
}

type trickleResult struct {
	closedAfter time.Duration
	sent        int
	code        string // the API error code, if the server answered
	err         error
}

// trickleBody sends a correctly signed request's header at once and its
// body one byte per second, and reports when the server closed the
// connection and what it answered.
func trickleBody(t *testing.T, b *bundle) trickleResult {
	body := `{"Month":"2024-12","FileType":"L3"}`
	signed := b.tc3(t, reqOpts{body: body})
	c, err := net.Dial("tcp", b.host)
	if err != nil {
		return trickleResult{err: err}
	}
	defer c.Close()
	start := time.Now()
	var head strings.Builder
	head.WriteString("POST / HTTP/1.1\r\nHost: " + b.host + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	signed.Header.Write(&head)
	head.WriteString("\r\n")
	if _, err := io.WriteString(c, head.String()); err != nil {
		return trickleResult{err: err}
	}
	var mu sync.Mutex
	sent := 0
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := range len(body) {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := c.Write([]byte{body[i]}); err != nil {
				return
			}
			mu.Lock()
			sent++
			mu.Unlock()
		}
	}()
	c.SetReadDeadline(start.Add(slowReadTimeout + slack + time.Second))
	var r trickleResult
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err == nil {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env envelope
		if err := json.Unmarshal(raw, &env); err != nil || env.Response.Error == nil {
			return trickleResult{err: fmt.Errorf("answer %d %q", resp.StatusCode, raw)}
		}
		r.code = env.Response.Error.Code
	}
	// Then the server closes the connection.
	_, err = io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return trickleResult{err: fmt.Errorf("the server kept the connection open for %v", time.Since(start))}
	}
	r.closedAfter = time.Since(start)
	mu.Lock()
	r.sent = sent
	mu.Unlock()
	return r
}
