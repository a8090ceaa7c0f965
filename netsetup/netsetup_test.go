package netsetup

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePortMapping(t *testing.T) {
	for in, want := range map[string]PortMapping{
		"18080:8080":            {HostPort: 18080, ContainerPort: 8080, Protocol: TCP},
		"53:5353/udp":           {HostPort: 53, ContainerPort: 5353, Protocol: UDP},
		"127.0.0.1:80:8080/tcp": {HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 80, ContainerPort: 8080, Protocol: TCP},
	} {
		got, err := ParsePortMapping(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "8080", "0:80", "80:0", "70000:80", "1:2:3:4", "80:80/sctp", "::1:80:80", "x:80"} {
		_, err := ParsePortMapping(in)
		assert.ErrorIs(t, err, ErrInvalidConfig, in)
	}
	assert.Equal(t, "127.0.0.1:80:8080/tcp", PortMapping{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 80, ContainerPort: 8080}.String())
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string][2]string{
		"":                {"loopback", ""},
		"none":            {"none", ""},
		"bridge":          {"bridge", ""},
		"host":            {"host", ""},
		"container:abc":   {"container", "abc"},
		"ns:/run/netns/x": {"ns", "/run/netns/x"},
	} {
		m, arg, err := ParseMode(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, [2]string{string(m), arg}, in)
	}
	for _, in := range []string{"container:", "ns:", "bridged", "Host"} {
		_, _, err := ParseMode(in)
		assert.ErrorIs(t, err, ErrInvalidConfig, in)
	}
}

func TestParseEgressRule(t *testing.T) {
	r, err := ParseEgressRule("10.1.2.3/16:443")
	require.NoError(t, err)
	assert.Equal(t, EgressRule{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Port: 443}, r)
	r, err = ParseEgressRule("192.0.2.7")
	require.NoError(t, err)
	assert.Equal(t, EgressRule{Prefix: netip.MustParsePrefix("192.0.2.7/32")}, r)
	for _, in := range []string{"", "10.0.0.0/33", "10.0.0.0/8:0", "fe80::/10", "host:80"} {
		_, err := ParseEgressRule(in)
		assert.ErrorIs(t, err, ErrInvalidConfig, in)
	}
}

func TestValidate(t *testing.T) {
	assert.NoError(t, Config{}.Validate())
	assert.NoError(t, Config{Mode: ModeBridge, Ports: []PortMapping{{HostPort: 1, ContainerPort: 2}}}.Validate())
	for name, c := range map[string]Config{
		"ports without bridge":  {Mode: ModeLoopback, Ports: []PortMapping{{HostPort: 1, ContainerPort: 2}}},
		"egress without bridge": {Mode: ModeHost, EgressAllow: []EgressRule{{Prefix: netip.MustParsePrefix("10.0.0.0/8")}}},
		"unknown mode":          {Mode: "wifi"},
		"long bridge":           {Mode: ModeBridge, Bridge: "a-very-long-bridge-name"},
		"ipv6 subnet":           {Mode: ModeBridge, Subnet: netip.MustParsePrefix("fd00::/64")},
		"tiny subnet":           {Mode: ModeBridge, Subnet: netip.MustParsePrefix("10.0.0.0/31")},
		"same port twice": {Mode: ModeBridge, Ports: []PortMapping{
			{HostPort: 80, ContainerPort: 1}, {HostPort: 80, ContainerPort: 2}}},
		"bad dns": {DNS: []string{"dns.example"}},
	} {
		assert.ErrorIs(t, c.Validate(), ErrInvalidConfig, name)
	}
}

func TestRenderResolvConf(t *testing.T) {
	host := []byte("# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0 trust-ad\n")
	got := string(renderResolvConf(host, nil, nil, true))
	assert.Equal(t, "nameserver 192.0.2.53\nsearch corp.example\noptions edns0 trust-ad\n", got)

	onlyLoopback := []byte("nameserver 127.0.0.53\n")
	assert.Equal(t, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n", string(renderResolvConf(onlyLoopback, nil, nil, true)))
	assert.Equal(t, "nameserver 127.0.0.53\n", string(renderResolvConf(onlyLoopback, nil, nil, false)),
		"host mode keeps loopback resolvers: they are reachable")
	assert.Equal(t, "nameserver 1.1.1.1\nsearch a.example\n",
		string(renderResolvConf(onlyLoopback, []string{"1.1.1.1"}, []string{"a.example"}, true)))
}

func TestRenderHosts(t *testing.T) {
	h := string(renderHosts("box", netip.MustParseAddr("10.77.0.2")))
	assert.True(t, strings.HasPrefix(h, "127.0.0.1\tlocalhost\n"))
	assert.Contains(t, h, "10.77.0.2\tbox\n")
	assert.Contains(t, string(renderHosts("box", netip.Addr{})), "127.0.1.1\tbox\n")
	assert.Equal(t, "0123456789ab", hostnameFor(Config{}, "0123456789abcdef"))
	assert.Equal(t, "web", hostnameFor(Config{Hostname: "web"}, "0123456789abcdef"))
}
