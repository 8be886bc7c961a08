package e2e

import (
	"fmt"
	"strings"
)

// devcrmKeyedRoutes are the keyed-route cases of the /dev/crm API.
func devcrmKeyedRoutes() []struct {
	name string
	make func(f *fixtures) keyedCase
} {
	type route = struct {
		name string
		make func(f *fixtures) keyedCase
	}
	req := func(method, path string, body any) keyedRequest {
		return keyedRequest{method: method, path: path, body: body}
	}
	lead := func(f *fixtures) string {
		n := f.next()
		return "/dev/crm/leads/" + f.s.dcCreate(f.s.key, map[string]any{"name": fmt.Sprintf("Dev %d", n), "email": fmt.Sprintf("d%d@example.com", n)}).ID
	}
	customer := func(f *fixtures) string {
		n := f.next()
		return "/dev/crm/customers/" + f.s.dcCustomerCreate(f.s.key, map[string]any{"name": fmt.Sprintf("Cust %d", n), "email": fmt.Sprintf("dc%d@example.com", n)}).ID
	}
	interaction := func(f *fixtures, owner string) string {
		body := map[string]any{"type": "call"}
		if strings.HasPrefix(owner, "/dev/crm/customers/") {
			body = map[string]any{"type": "call", "subject": "First", "date": "2026-01-02"}
		}
		var i dcInteraction
		f.s.dcWant(f.s.do(f.s.key, "POST", owner+"/interactions", body), 201, &i)
		return owner + "/interactions/" + i.ID
	}
	out := []route{
		{"devcrm POST /dev/crm/leads", func(f *fixtures) keyedCase {
			n := f.next()
			body := map[string]any{"name": "Keyed", "email": fmt.Sprintf("k%d@example.com", n)}
			return keyedCase{
				first:       req("POST", "/dev/crm/leads", body),
				otherPath:   req("POST", "/dev/crm/customers", body),
				otherBody:   req("POST", "/dev/crm/leads", map[string]any{"name": "Keyed", "email": fmt.Sprintf("k%d-b@example.com", n)}),
				otherMethod: req("PUT", lead(f), map[string]any{"name": "X"}),
			}
		}},
		{"devcrm POST /dev/crm/customers", func(f *fixtures) keyedCase {
			n := f.next()
			body := map[string]any{"name": "Keyed", "email": fmt.Sprintf("kc%d@example.com", n)}
			return keyedCase{
				first:       req("POST", "/dev/crm/customers", body),
				otherPath:   req("POST", "/dev/crm/leads", body),
				otherBody:   req("POST", "/dev/crm/customers", map[string]any{"name": "Keyed", "email": fmt.Sprintf("kc%d-b@example.com", n)}),
				otherMethod: req("PUT", customer(f), map[string]any{"name": "X"}),
			}
		}},
		{"devcrm POST /dev/crm/leads/{leadId}/convert", func(f *fixtures) keyedCase {
			a, b := lead(f), lead(f)
			return keyedCase{
				first:       req("POST", a+"/convert", nil),
				otherPath:   req("POST", b+"/convert", nil),
				otherBody:   req("POST", a+"/convert", "{}"),
				otherMethod: req("DELETE", a, nil),
			}
		}},
	}
	for _, o := range []struct {
		kind, param string
		make        func(f *fixtures) string
		update      map[string]any
		interaction map[string]any
	}{
		{"leads", "leadId", lead, map[string]any{"name": "Renamed"}, map[string]any{"type": "note", "notes": "n"}},
		{"customers", "customerId", customer, map[string]any{"name": "Renamed"}, map[string]any{"type": "email", "subject": "S", "date": "2026-01-03"}},
	} {
		base := "/dev/crm/" + o.kind + "/{" + o.param + "}"
		out = append(out,
			route{"devcrm PUT " + base, func(f *fixtures) keyedCase {
				a, b := o.make(f), o.make(f)
				return keyedCase{
					first:       req("PUT", a, o.update),
					otherPath:   req("PUT", b, o.update),
					otherBody:   req("PUT", a, map[string]any{"name": "Renamed again"}),
					otherMethod: req("DELETE", a, nil),
				}
			}},
			route{"devcrm DELETE " + base, func(f *fixtures) keyedCase {
				a, b := o.make(f), o.make(f)
				return keyedCase{
					first:       req("DELETE", a, nil),
					otherPath:   req("DELETE", b, nil),
					otherBody:   req("DELETE", a, "{}"),
					otherMethod: req("PUT", b, o.update),
				}
			}},
			route{"devcrm POST " + base + "/interactions", func(f *fixtures) keyedCase {
				a, b := o.make(f), o.make(f)
				other := map[string]any{}
				for k, v := range o.interaction {
					other[k] = v
				}
				other["next_action"] = "again"
				return keyedCase{
					first:       req("POST", a+"/interactions", o.interaction),
					otherPath:   req("POST", b+"/interactions", o.interaction),
					otherBody:   req("POST", a+"/interactions", other),
					otherMethod: req("PUT", a, o.update),
				}
			}},
			route{"devcrm PUT " + base + "/interactions/{interactionId}", func(f *fixtures) keyedCase {
				owner := o.make(f)
				a, b := interaction(f, owner), interaction(f, owner)
				return keyedCase{
					first:       req("PUT", a, map[string]any{"next_action": "Call back"}),
					otherPath:   req("PUT", b, map[string]any{"next_action": "Call back"}),
					otherBody:   req("PUT", a, map[string]any{"next_action": "Call again"}),
					otherMethod: req("DELETE", a, nil),
				}
			}},
			route{"devcrm DELETE " + base + "/interactions/{interactionId}", func(f *fixtures) keyedCase {
				owner := o.make(f)
				a, b := interaction(f, owner), interaction(f, owner)
				return keyedCase{
					first:       req("DELETE", a, nil),
					otherPath:   req("DELETE", b, nil),
					otherBody:   req("DELETE", a, "{}"),
					otherMethod: req("PUT", b, map[string]any{"next_action": "X"}),
				}
			}})
	}
	custID := func(f *fixtures) string { return strings.TrimPrefix(customer(f), "/dev/crm/customers/") }
	order := func(f *fixtures) string {
		return "/dev/crm/orders/" + f.s.dcOrderCreate(f.s.key, map[string]any{"customer_id": custID(f),
			"product_id": "00000000-0000-4000-8000-000000000001", "quantity": 1}).ID
	}
	feedback := func(f *fixtures) string {
		return "/dev/crm/feedback/" + f.s.dcFeedbackRequest(f.s.key, custID(f)).ID
	}
	out = append(out,
		route{"devcrm POST /dev/crm/orders", func(f *fixtures) keyedCase {
			c := custID(f)
			body := map[string]any{"customer_id": c, "product_id": "00000000-0000-4000-8000-000000000002", "quantity": 2}
			return keyedCase{
				first:       req("POST", "/dev/crm/orders", body),
				otherPath:   req("POST", "/dev/crm/customers/"+c+"/feedback/request", body),
				otherBody:   req("POST", "/dev/crm/orders", map[string]any{"customer_id": c, "product_id": "00000000-0000-4000-8000-000000000002", "quantity": 3}),
				otherMethod: req("PUT", order(f), map[string]any{"quantity": 2}),
			}
		}},
		route{"devcrm PUT /dev/crm/orders/{orderId}", func(f *fixtures) keyedCase {
			a, b := order(f), order(f)
			return keyedCase{
				first:       req("PUT", a, map[string]any{"status": "processing"}),
				otherPath:   req("PUT", b, map[string]any{"status": "processing"}),
				otherBody:   req("PUT", a, map[string]any{"status": "shipped"}),
				otherMethod: req("DELETE", a, nil),
			}
		}},
		route{"devcrm DELETE /dev/crm/orders/{orderId}", func(f *fixtures) keyedCase {
			a, b := order(f), order(f)
			return keyedCase{
				first:       req("DELETE", a, nil),
				otherPath:   req("DELETE", b, nil),
				otherBody:   req("DELETE", a, "{}"),
				otherMethod: req("PUT", b, map[string]any{"notes": "X"}),
			}
		}},
		route{"devcrm POST /dev/crm/customers/{customerId}/feedback/request", func(f *fixtures) keyedCase {
			a, b := customer(f), customer(f)
			return keyedCase{
				first:       req("POST", a+"/feedback/request", nil),
				otherPath:   req("POST", b+"/feedback/request", nil),
				otherBody:   req("POST", a+"/feedback/request", "{}"),
				otherMethod: req("DELETE", a, nil),
			}
		}},
		route{"devcrm POST /dev/crm/feedback/{feedbackId}", func(f *fixtures) keyedCase {
			a, b := feedback(f), feedback(f)
			return keyedCase{
				first:       req("POST", a, map[string]any{"rating": 5, "comment": "Keyed"}),
				otherPath:   req("POST", b, map[string]any{"rating": 5, "comment": "Keyed"}),
				otherBody:   req("POST", a, map[string]any{"rating": 4, "comment": "Keyed"}),
				otherMethod: req("DELETE", customer(f), nil), // no other method on the path
			}
		}})
	return out
}
