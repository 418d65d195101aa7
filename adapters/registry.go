package adapters

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrDuplicateName is returned by Registry.Register for a name that is already registered.
var ErrDuplicateName = errors.New("adapter name already registered")

// Registry finds adapters by their stable name. The zero value is not usable; call NewRegistry.
// All methods are safe for concurrent use; registration normally happens once at startup.
type Registry struct {
	mu       sync.RWMutex
	adapters map[string]Adapter
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{adapters: make(map[string]Adapter)}
}

// Register adds a under a.Name(). It fails for a nil adapter, an empty name, or a name already
// registered (ErrDuplicateName).
func (r *Registry) Register(a Adapter) error {
	if a == nil {
		return errors.New("register adapter: adapter is nil")
	}
	name := a.Name()
	if name == "" {
		return errors.New("register adapter: empty name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.adapters[name]; ok {
		return fmt.Errorf("register adapter %q: %w", name, ErrDuplicateName)
	}
	r.adapters[name] = a
	return nil
}

// MustRegister is Register that panics on error: a bad registration is a programmer error found at
// startup.
func (r *Registry) MustRegister(a Adapter) {
	if err := r.Register(a); err != nil {
		panic(err)
	}
}

// Get returns the adapter registered under name.
func (r *Registry) Get(name string) (Adapter, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.adapters[name]
	return a, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.adapters))
	for name := range r.adapters {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
