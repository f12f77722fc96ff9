package core

// SkyStatus is a cluster status as `sky status` prints it.
type SkyStatus string

const (
	SkyInit         SkyStatus = "INIT"
	SkyUp           SkyStatus = "UP"
	SkyStopped      SkyStatus = "STOPPED"
	SkyPending      SkyStatus = "PENDING"      // v0.11/0.12+
	SkyAutostopping SkyStatus = "AUTOSTOPPING" // v0.12+
)

// ClusterStatus maps a sky status to skygate's status; this is the one place that does.
// Unknown words map to StatusError so that nothing unexpected reads as healthy.
func (s SkyStatus) ClusterStatus() ClusterStatus {
	switch s {
	case SkyUp:
		return StatusRunning
	case SkyStopped:
		return StatusStopped
	case SkyInit, SkyPending:
		return StatusProvisioning
	case SkyAutostopping:
		return StatusStopping
	}
	return StatusError
}

// Settled reports whether sky considers the cluster at rest (not INIT/PENDING/AUTOSTOPPING).
func (s SkyStatus) Settled() bool { return s == SkyUp || s == SkyStopped }

// SkyCluster is what `sky status` says about one cluster.
type SkyCluster struct {
	Found     bool      // false: sky does not know the cluster (it was torn down or never existed)
	Status    SkyStatus // empty when not found
	Cloud     string    // lower-case registry name ("aws", "kubernetes"); empty when unknown
	Region    string    // region or zone as shown; empty when unknown
	Resources string    // the RESOURCES cell, as shown
	HeadIP    string    // when the output shows it
}

// CheckResult is what `sky check` says about cloud access.
type CheckResult struct {
	Enabled  []string          // lower-case cloud names, sorted
	Disabled map[string]string // lower-case cloud name -> reason (one line of text)
}
