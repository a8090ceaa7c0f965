package namespace_test

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"

	"github.com/cocoonrt/container/namespace"
)

func TestValidateIDMappings(t *testing.T) {
	m := func(c, h, n uint32) specs.LinuxIDMapping {
		return specs.LinuxIDMapping{ContainerID: c, HostID: h, Size: n}
	}
	assert.NoError(t, namespace.ValidateIDMappings("uid", []specs.LinuxIDMapping{m(0, 1000, 1), m(1, 100000, 65535)}))
	assert.ErrorContains(t, namespace.ValidateIDMappings("uid", []specs.LinuxIDMapping{m(0, 1000, 0)}), "size is 0")
	assert.ErrorContains(t, namespace.ValidateIDMappings("uid", []specs.LinuxIDMapping{m(0, 1000, 10), m(5, 5000, 10)}), "overlap inside the container")
	assert.ErrorContains(t, namespace.ValidateIDMappings("gid", []specs.LinuxIDMapping{m(0, 1000, 10), m(50, 1005, 10)}), "overlap on the host")
	assert.ErrorContains(t, namespace.ValidateIDMappings("uid", []specs.LinuxIDMapping{m(0, 4294967295, 2)}), "32 bits")
}

func TestValidateNamespaces(t *testing.T) {
	assert.NoError(t, namespace.Validate(namespace.Defaults(), nil, nil))
	assert.ErrorContains(t, namespace.Validate([]specs.LinuxNamespace{{Type: "bogus"}}, nil, nil), "unknown type")
	assert.ErrorContains(t, namespace.Validate([]specs.LinuxNamespace{{Type: namespace.PID}, {Type: namespace.PID}}, nil, nil), "listed twice")
	assert.ErrorContains(t, namespace.Validate(nil, []specs.LinuxIDMapping{{Size: 1}}, nil), "without a user namespace")
	assert.ErrorContains(t, namespace.Validate([]specs.LinuxNamespace{{Type: namespace.User}}, nil, nil), "needs both")
}

func TestMapToHost(t *testing.T) {
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 300000, Size: 10}}
	h, ok := namespace.MapToHost(maps, 1005)
	assert.True(t, ok)
	assert.Equal(t, uint32(300005), h)
	_, ok = namespace.MapToHost(maps, 5000)
	assert.False(t, ok)
	h, ok = namespace.MapToHost(nil, 42)
	assert.True(t, ok)
	assert.Equal(t, uint32(42), h)
}
