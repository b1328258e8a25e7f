package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/launcher"
)

// ClusterName is the name of the test cluster in every node's remote_servers.
const ClusterName = "tamtam"

// Cluster is a real ClickHouse cluster on loopback: Debian's ZooKeeper and four
// clickhouse-server processes, two shards of two replicas, each node started by the
// product's launcher (which restarts a node killed with SIGKILL, as it does the
// embedded server).
type Cluster struct {
	Nodes    []*launcher.Server // shard 1: nodes 0 and 1; shard 2: nodes 2 and 3
	addrs    []string
	password string
	zk       *exec.Cmd
	zkDone   chan struct{}
}

// zookeeperClasspath is Debian's zookeeper package: its jar names its dependencies.
const (
	zookeeperClasspath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
	slf4jSimple        = "/usr/share/java/slf4j-simple.jar"
)

// StartCluster starts a cluster for t and stops it when t ends. A missing ZooKeeper or
// ClickHouse fails t: scripts/install-deps.sh test installs both.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{}
	t.Cleanup(func() {
		if t.Failed() { // what the servers said, before their directories go
			for i := range c.Nodes {
				b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("node%d", i+1), "log", "err.log"))
				t.Logf("node %d err.log:\n%s", i+1, lastLines(string(b), 60))
			}
			b, _ := os.ReadFile(filepath.Join(dir, "zookeeper", "zookeeper.log"))
			t.Logf("zookeeper.log:\n%s", lastLines(string(b), 30))
		}
		c.stop()
	})
	ports := freePorts(t, 1+4*3)
	zkPort := ports[0]
	if err := c.startZooKeeper(filepath.Join(dir, "zookeeper"), zkPort); err != nil {
		t.Fatalf("chtest: start zookeeper: %v", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	c.password = hex.EncodeToString(raw)
	for i := range 4 {
		c.addrs = append(c.addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1+3*i])))
	}
	var remote strings.Builder
	remote.WriteString("<remote_servers><" + ClusterName + ">")
	for shard := range 2 {
		remote.WriteString("<shard><internal_replication>true</internal_replication>")
		for r := range 2 {
			fmt.Fprintf(&remote, "<replica><host>127.0.0.1</host><port>%d</port><user>tamtam</user><password>%s</password></replica>",
				ports[1+3*(2*shard+r)], c.password)
		}
		remote.WriteString("</shard>")
	}
	remote.WriteString("</" + ClusterName + "></remote_servers>")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 4 {
		config := remote.String() + fmt.Sprintf(`
  <zookeeper><node><host>127.0.0.1</host><port>%d</port></node><session_timeout_ms>5000</session_timeout_ms></zookeeper>
  <macros><shard>%02d</shard><replica>node%d</replica></macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>`, zkPort, i/2+1, i+1)
		s, err := launcher.Launch(ctx, launcher.Options{
			Dir: filepath.Join(dir, fmt.Sprintf("node%d", i+1)),
			Node: &launcher.Node{TCPPort: ports[1+3*i], HTTPPort: ports[2+3*i], InterserverPort: ports[3+3*i],
				Password: c.password, Config: config},
		})
		if err != nil {
			t.Fatalf("chtest: start cluster node %d: %v", i+1, err)
		}
		c.Nodes = append(c.Nodes, s)
	}
	return c
}

// Endpoint returns the endpoint of every node, in order.
func (c *Cluster) Endpoint() queries.Endpoint {
	return queries.Endpoint{Addr: strings.Join(c.addrs, ","), User: "tamtam", Password: c.password}
}

// Node returns the endpoint of node i alone.
func (c *Cluster) Node(i int) queries.Endpoint {
	return queries.Endpoint{Addr: c.addrs[i], User: "tamtam", Password: c.password}
}

// URL returns the clickhouse:// URL of database on the cluster, every node listed.
func (c *Cluster) URL(database string) string {
	return "clickhouse://tamtam:" + c.password + "@" + strings.Join(c.addrs, ",") + "/" + database
}

// Kill sends SIGKILL to the clickhouse-server of node i; its launcher restarts it after
// a second. It returns the pid killed.
func (c *Cluster) Kill(t testing.TB, i int) int {
	t.Helper()
	pid := c.Nodes[i].PID()
	if pid <= 0 {
		t.Fatalf("chtest: node %d has no server process", i+1)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("chtest: kill node %d: %v", i+1, err)
	}
	return pid
}

func (c *Cluster) startZooKeeper(dir string, port int) error {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return err
	}
	// A short tick: the nodes' 5 s sessions must fit in [2, 20] ticks, and a killed
	// node's session expires soon, so that it rejoins fast when restarted.
	cfg := fmt.Sprintf("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxClientCnxns=0\n4lw.commands.whitelist=srvr\n",
		filepath.Join(dir, "data"), port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o600); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	java, err := exec.LookPath("java")
	if err != nil {
		return fmt.Errorf("java not found (scripts/install-deps.sh test installs zookeeper, which needs it): %w", err)
	}
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		return fmt.Errorf("Debian's zookeeper package is not installed (scripts/install-deps.sh test): %w", err)
	}
	classpath := zookeeperClasspath
	if _, err := os.Stat(slf4jSimple); err == nil {
		classpath += ":" + slf4jSimple // its log, when the machine has a logger for it
	}
	c.zk = exec.Command(java, "-Xmx256m", "-cp", classpath,
		"org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(dir, "zoo.cfg"))
	c.zk.Stdout, c.zk.Stderr = log, log
	c.zk.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.zk.Start(); err != nil {
		return err
	}
	c.zkDone = make(chan struct{})
	go func() { c.zk.Wait(); close(c.zkDone) }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(60 * time.Second)
	// The port accepts connections before the server serves: a node that connects then
	// is dropped, and 18.16 does not recover well from it. "srvr" says when it serves.
	for {
		if zookeeperServes(addr) {
			return nil
		}
		select {
		case <-c.zkDone:
			b, _ := os.ReadFile(log.Name())
			return fmt.Errorf("zookeeper exited: %s", lastLines(string(b), 5))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zookeeper does not answer on %s", addr)
		}
	}
}

func zookeeperServes(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("srvr")); err != nil {
		return false
	}
	b, _ := io.ReadAll(conn)
	return strings.HasPrefix(string(b), "Zookeeper version")
}

func (c *Cluster) stop() {
	for _, n := range c.Nodes {
		n.Close()
	}
	if c.zk != nil && c.zk.Process != nil {
		c.zk.Process.Kill()
		<-c.zkDone
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n loopback ports free when asked (all held open together, so that
// they differ).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("chtest: free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
