package httpapi

import (
	"reflect"
	"testing"
)

type acc struct {
	ID        string `json:"id"`
	Extension string `json:"extension"`
}

type inner struct {
	MAC string `json:"mac"`
}

type dev struct {
	inner
	Model string `json:"model"`
}

// TestSortItems: lists come ordered by the field a person scans for, numbers
// by value, embedded fields found, other values untouched.
func TestSortItems(t *testing.T) {
	accs := []acc{{"c", "1001"}, {"a", "203"}, {"b", "201"}, {"d", "202"}}
	SortItems(accs)
	if got := []string{accs[0].Extension, accs[1].Extension, accs[2].Extension, accs[3].Extension}; !reflect.DeepEqual(got, []string{"201", "202", "203", "1001"}) {
		t.Errorf("accounts %v", got)
	}
	devs := []*dev{{inner{"001565AABBCC"}, "x"}, {inner{"000413000202"}, "y"}, {inner{"001565000201"}, "z"}}
	SortItems(devs)
	if devs[0].MAC != "000413000202" || devs[1].MAC != "001565000201" || devs[2].MAC != "001565AABBCC" {
		t.Errorf("devices %v %v %v", devs[0], devs[1], devs[2])
	}
	ints := []int{3, 1, 2}
	SortItems(ints)
	if !reflect.DeepEqual(ints, []int{3, 1, 2}) {
		t.Error("a slice without items was reordered")
	}
	for _, c := range []struct {
		a, b string
		less bool
	}{{"ext9", "ext10", true}, {"Beta", "alpha", false}, {"a01", "a1", false}, {"", "a", true}} {
		if NaturalLess(c.a, c.b) != c.less {
			t.Errorf("NaturalLess(%q, %q) = %v", c.a, c.b, !c.less)
		}
	}
}
