// polprobe is the network policy tests' server and client, run inside the
// tests' pod namespaces (`ip netns exec POD polprobe ...`).
//
//	polprobe serve NAME PORT...
//	    answers on every PORT over TCP (writes "NAME\n", then echoes), UDP
//	    (replies "NAME") and SCTP; prints "ready" once listening.
//	polprobe hold PROTO HOST PORT INTERVAL_MS COUNT
//	    one TCP connection (or one UDP socket) kept for COUNT rounds, one
//	    byte each INTERVAL_MS echoed back; prints {"answered":[true,...]}:
//	    what happens to an established flow while policies change.
//	polprobe rate HOST PORT SECONDS WORKERS
//	    WORKERS loops of TCP connect, read the greeting, close, for SECONDS;
//	    prints {"connections":N,"errors":E,"perSecond":R} (bench/policy.ts).
//	polprobe probe TIMEOUT_MS PROTO:HOST:PORT...
//	    tries every target at once; prints one JSON object
//	    {"PROTO:HOST:PORT": true|false, ...}: true when the server answered
//	    within the timeout.
//
// SCTP: the machine's kernel may have no SCTP sockets (CONFIG_IP_SCTP off)
// while netfilter still tracks and filters SCTP. So SCTP is spoken on raw IP
// sockets (protocol 132): the client sends a real INIT chunk (verification
// tag 0, a random initiate tag, CRC32c), the server answers INIT ACK with
// that tag, which is what connection tracking and policy see of an SCTP
// association being set up. A raw socket also keeps the kernel from
// answering "protocol unreachable".
package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func main() {
	if len(os.Args) < 3 {
		fail("usage: polprobe serve NAME PORT... | polprobe probe TIMEOUT_MS PROTO:HOST:PORT...")
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2], os.Args[3:])
	case "hold":
		if len(os.Args) != 7 {
			fail("usage: polprobe hold PROTO HOST PORT INTERVAL_MS COUNT")
		}
		interval, _ := strconv.Atoi(os.Args[5])
		count, _ := strconv.Atoi(os.Args[6])
		hold(os.Args[2], net.JoinHostPort(os.Args[3], os.Args[4]), time.Duration(interval)*time.Millisecond, count)
	case "rate":
		if len(os.Args) != 6 {
			fail("usage: polprobe rate HOST PORT SECONDS WORKERS")
		}
		secs, _ := strconv.Atoi(os.Args[4])
		workers, _ := strconv.Atoi(os.Args[5])
		rate(net.JoinHostPort(os.Args[2], os.Args[3]), time.Duration(secs)*time.Second, workers)
	case "probe":
		ms, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fail("probe: TIMEOUT_MS must be a number")
		}
		probe(time.Duration(ms)*time.Millisecond, os.Args[3:])
	default:
		fail("unknown mode " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "polprobe: "+msg)
	os.Exit(2)
}

func serve(name string, ports []string) {
	want := map[uint16]bool{}
	for _, p := range ports {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			fail("bad port " + p)
		}
		want[uint16(n)] = true
		tl, err := net.Listen("tcp4", ":"+p)
		if err != nil {
			fail(err.Error())
		}
		go func() {
			for {
				c, err := tl.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.Write([]byte(name + "\n"))
					buf := make([]byte, 64)
					for {
						n, err := c.Read(buf)
						if err != nil {
							return
						}
						c.Write(buf[:n])
					}
				}()
			}
		}()
		ul, err := net.ListenPacket("udp4", ":"+p)
		if err != nil {
			fail(err.Error())
		}
		go func() {
			buf := make([]byte, 1500)
			for {
				_, from, err := ul.ReadFrom(buf)
				if err != nil {
					return
				}
				ul.WriteTo([]byte(name), from)
			}
		}()
	}
	raw, err := net.ListenIP("ip4:132", nil)
	if err != nil {
		fail("sctp (raw ip4:132): " + err.Error())
	}
	fmt.Println("ready")
	buf := make([]byte, 1500)
	for {
		n, from, err := raw.ReadFrom(buf)
		if err != nil {
			fail(err.Error())
		}
		p := buf[:n]
		// Common header (12 bytes), then an INIT chunk: type 1, flags, length, initiate tag, ...
		if n < 32 || p[12] != 1 {
			continue
		}
		sport, dport := binary.BigEndian.Uint16(p[0:2]), binary.BigEndian.Uint16(p[2:4])
		if !want[dport] {
			continue
		}
		tag := binary.BigEndian.Uint32(p[16:20])
		raw.WriteTo(initAck(dport, sport, tag), from)
	}
}

// initAck is an INIT ACK chunk with a (meaningless) state cookie.
func initAck(sport, dport uint16, peerTag uint32) []byte {
	cookie := []byte("weft-polprobe-cookie")
	chunk := make([]byte, 20+4+len(cookie))
	chunk[0] = 2
	binary.BigEndian.PutUint16(chunk[2:4], uint16(len(chunk)))
	binary.BigEndian.PutUint32(chunk[4:8], randomTag())
	binary.BigEndian.PutUint32(chunk[8:12], 65535) // a_rwnd
	binary.BigEndian.PutUint16(chunk[12:14], 1)
	binary.BigEndian.PutUint16(chunk[14:16], 1)
	binary.BigEndian.PutUint32(chunk[16:20], randomTag())
	binary.BigEndian.PutUint16(chunk[20:22], 7) // state cookie parameter
	binary.BigEndian.PutUint16(chunk[22:24], uint16(4+len(cookie)))
	copy(chunk[24:], cookie)
	return packet(sport, dport, peerTag, chunk)
}

// packet prepends the common header and fills in the CRC32c.
func packet(sport, dport uint16, vtag uint32, chunk []byte) []byte {
	p := make([]byte, 12+len(chunk))
	binary.BigEndian.PutUint16(p[0:2], sport)
	binary.BigEndian.PutUint16(p[2:4], dport)
	binary.BigEndian.PutUint32(p[4:8], vtag)
	copy(p[12:], chunk)
	binary.LittleEndian.PutUint32(p[8:12], crc32.Checksum(p, castagnoli))
	return p
}

func randomTag() uint32 {
	var b [4]byte
	rand.Read(b[:])
	t := binary.BigEndian.Uint32(b[:])
	if t == 0 {
		t = 1
	}
	return t
}

func probe(timeout time.Duration, targets []string) {
	out := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, t := range targets {
		parts := strings.Split(t, ":")
		if len(parts) != 3 {
			fail("target " + t + " is not PROTO:HOST:PORT")
		}
		wg.Add(1)
		go func(t, proto, host, port string) {
			defer wg.Done()
			var ok bool
			switch proto {
			case "tcp":
				ok = probeTCP(host, port, timeout)
			case "udp":
				ok = probeUDP(host, port, timeout)
			case "sctp":
				ok = probeSCTP(host, port, timeout)
			default:
				fail("unknown protocol " + proto)
			}
			mu.Lock()
			out[t] = ok
			mu.Unlock()
		}(t, parts[0], parts[1], parts[2])
	}
	wg.Wait()
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func probeTCP(host, port string, timeout time.Duration) bool {
	c, err := net.DialTimeout("tcp4", net.JoinHostPort(host, port), timeout)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	return n > 0
}

func probeUDP(host, port string, timeout time.Duration) bool {
	c, err := net.Dial("udp4", net.JoinHostPort(host, port))
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	// Datagrams may be lost before conntrack has the flow; send a few.
	buf := make([]byte, 64)
	for i := 0; i < 3; i++ {
		c.Write([]byte("?"))
		c.SetReadDeadline(time.Now().Add(timeout / 3))
		if n, err := c.Read(buf); err == nil && n > 0 {
			return true
		}
	}
	return false
}

func probeSCTP(host, port string, timeout time.Duration) bool {
	dport, _ := strconv.Atoi(port)
	dst := net.ParseIP(host)
	c, err := net.ListenIP("ip4:132", nil)
	if err != nil {
		return false
	}
	defer c.Close()
	tag := randomTag()
	var b [2]byte
	rand.Read(b[:])
	sport := 1024 + binary.BigEndian.Uint16(b[:])%60000
	chunk := make([]byte, 20)
	chunk[0] = 1 // INIT
	binary.BigEndian.PutUint16(chunk[2:4], 20)
	binary.BigEndian.PutUint32(chunk[4:8], tag)
	binary.BigEndian.PutUint32(chunk[8:12], 65535)
	binary.BigEndian.PutUint16(chunk[12:14], 1)
	binary.BigEndian.PutUint16(chunk[14:16], 1)
	binary.BigEndian.PutUint32(chunk[16:20], tag)
	if _, err := c.WriteTo(packet(sport, uint16(dport), 0, chunk), &net.IPAddr{IP: dst}); err != nil {
		return false
	}
	deadline := time.Now().Add(timeout)
	c.SetReadDeadline(deadline)
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return false
		}
		p := buf[:n]
		if n < 16 || !from.(*net.IPAddr).IP.Equal(dst) {
			continue
		}
		if binary.BigEndian.Uint16(p[0:2]) == uint16(dport) && binary.BigEndian.Uint16(p[2:4]) == sport && binary.BigEndian.Uint32(p[4:8]) == tag && p[12] == 2 {
			return true
		}
	}
}

func hold(proto, addr string, interval time.Duration, count int) {
	c, err := net.DialTimeout(proto+"4", addr, 2*time.Second)
	if err != nil {
		fail(err.Error())
	}
	defer c.Close()
	buf := make([]byte, 64)
	if proto == "tcp" {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err != nil {
			fail("no greeting: " + err.Error())
		}
	}
	answered := make([]bool, count)
	for i := 0; i < count; i++ {
		start := time.Now()
		c.Write([]byte("x"))
		c.SetReadDeadline(start.Add(interval))
		n, err := c.Read(buf)
		answered[i] = err == nil && n > 0
		time.Sleep(time.Until(start.Add(interval)))
	}
	b, _ := json.Marshal(map[string][]bool{"answered": answered})
	fmt.Println(string(b))
}

func rate(addr string, d time.Duration, workers int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok, bad := 0, 0
	start := time.Now()
	end := start.Add(d)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for time.Now().Before(end) {
				good := false
				if c, err := net.DialTimeout("tcp4", addr, time.Second); err == nil {
					c.SetReadDeadline(time.Now().Add(time.Second))
					n, _ := c.Read(buf)
					good = n > 0
					c.Close()
				}
				mu.Lock()
				if good {
					ok++
				} else {
					bad++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	b, _ := json.Marshal(map[string]any{"connections": ok, "errors": bad, "perSecond": float64(ok) / elapsed})
	fmt.Println(string(b))
}
