package main

import "github.com/prometheus/client_golang/prometheus"

// farEndCollector reports smsbot_far_end_up: whether the last call to a far
// end got an answer. A far end not called yet is not reported.
type farEndCollector struct {
	desc *prometheus.Desc
	// ends maps a far end's label to its state.
	ends map[string]func() (up, known bool)
}

// registerFarEnds adds smsbot_far_end_up for the Auth0 login to reg.
// /readyz does not depend on it: Auth0 being down stops only the login.
func registerFarEnds(reg prometheus.Registerer, auth0Login func() (up, known bool)) {
	reg.MustRegister(&farEndCollector{
		desc: prometheus.NewDesc("smsbot_far_end_up", "1 when the last call to the far end got an answer, 0 when it could not be reached; absent before the first call.", []string{"far_end"}, nil),
		ends: map[string]func() (bool, bool){"auth0_login": auth0Login},
	})
}

func (c *farEndCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *farEndCollector) Collect(ch chan<- prometheus.Metric) {
	for name, state := range c.ends {
		up, known := state()
		if !known {
			continue
		}
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, name)
	}
}
