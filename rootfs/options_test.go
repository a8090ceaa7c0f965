package rootfs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseOptions(t *testing.T) {
	p, err := ParseOptions([]string{"rbind", "ro", "nosuid", "rprivate", "mode=755", "size=1m", "rw", "noexec"})
	require.NoError(t, err)
	assert.True(t, p.Bind)
	assert.True(t, p.Recursive)
	assert.Equal(t, uintptr(flagNosuid|flagNoexec), p.Flags, "rw after ro clears MS_RDONLY")
	assert.Equal(t, uintptr(flagRdonly), p.Clear)
	assert.Equal(t, uintptr(flagPrivate|flagRec), p.Propagation)
	assert.Equal(t, "mode=755,size=1m", p.Data)

	_, err = ParseOptions([]string{""})
	assert.Error(t, err)
	_, err = ParseOptions([]string{"a\x00b"})
	assert.Error(t, err)
}

func TestLayersOverlayData(t *testing.T) {
	l := &Layers{Lower: []string{"/l1", "/l2", "/l3"}, Upper: "/u", Work: "/w"}
	d, err := l.OverlayData()
	require.NoError(t, err)
	assert.Equal(t, "lowerdir=/l3:/l2:/l1,upperdir=/u,workdir=/w", d, "overlayfs lists the top layer first")
	assert.ErrorContains(t, (&Layers{Lower: []string{"relative"}}).Validate(), "not an absolute path")
	assert.ErrorContains(t, (&Layers{Lower: []string{"/a:b"}}).Validate(), "cannot appear")
}
