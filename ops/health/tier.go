package health

// Tier groups checks by cost: the dashboard runs Cheap ones every couple of
// seconds and Expensive ones less often.
type Tier int

const (
	// Cheap: Synapse endpoints, the token, the metrics scrape, whether the
	// databases answer.
	Cheap Tier = iota
	// Expensive: PostgreSQL statistics, disk, LiveKit.
	Expensive
)

func (t Tier) String() string {
	if t == Expensive {
		return "expensive"
	}
	return "cheap"
}
