/*
 * nanoesp-sim C shim: a tiny opaque-pointer API over Debian's libsimavr 1.6.
 *
 * Everything with policy (timing of the soft UART, ptys, the ESP8266, throttling)
 * lives in Rust. This file only does what needs simavr's C structures: stepping the
 * core, the USART0 byte IRQs, pin IRQs with cycle stamps, resets, ADC and flash.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later (links GPL-3 libsimavr)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdarg.h>
#include <unistd.h>

#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_io.h"
#include "sim_irq.h"
#include "sim_cycle_timers.h"
#include "avr_uart.h"
#include "avr_ioport.h"
#include "avr_adc.h"
#include "avr_timer.h"

DEFINE_FIFO(uint16_t, uart_fifo);

#define OUT_CAP 4096   /* USART0 bytes sent by the AVR, not yet collected by Rust */
#define IN_CAP 4096    /* bytes queued by Rust for USART0 RX, fed while simavr says XON */
#define EDGE_CAP 8192  /* watched-pin edges not yet collected by Rust */
#define MAX_WATCH 4

/* MCUSR (0x54 in data space on the ATmega328P) and its EXTRF bit (datasheet 10.9.1). */
#define MCUSR_ADDR 0x54
#define MCUSR_PORF 0x01
#define MCUSR_EXTRF 0x02

typedef struct nsim_out_t { uint64_t cycle; uint8_t byte; } nsim_out_t;
typedef struct nsim_edge_t { uint64_t cycle; uint8_t pin; uint8_t level; } nsim_edge_t;

typedef struct nsim_t {
	avr_t *avr;
	avr_uart_t *uart0;
	int xon;            /* simavr's USART0 RX FIFO has room */
	int flow_control;   /* 1: feed IN only while XON; 0: feed immediately (no flow control) */
	uint8_t in_buf[IN_CAP];
	uint32_t in_head, in_len;
	nsim_out_t out_buf[OUT_CAP];
	uint32_t out_head, out_len;
	uint32_t out_dropped;
	nsim_edge_t edges[EDGE_CAP];
	uint32_t edge_head, edge_len;
	uint32_t edges_dropped;
	struct { char port; uint8_t bit; uint8_t id; } watch[MAX_WATCH];
	int n_watch;
	uint8_t ext_mask[8], ext_value[8]; /* externally driven pins per port 'A'+i */
	uint32_t resets;    /* core resets of any kind (external, watchdog) */
	uint32_t until_armed;
	int stop_early;     /* an output event happened: return from nsim_run so Rust sees it now */
	uint8_t oc1_latch[2]; /* Timer1 OC1A/OC1B output latches (0 after reset, as on hardware) */
	int tracing;        /* record Timer1/PORTB register writes for diagnostics */
	struct { uint64_t cycle; uint16_t what; uint16_t value; } trace[256];
	uint32_t trace_head, trace_len;
	avr_timer_t *timer1;
	uint8_t oc1_before[2];      /* latch level before its last change */
	uint64_t oc1_changed_at[2]; /* cycle of that change */
	uint64_t oc1_write_guard[2]; /* cycle of the last undo by after_ocr1_write */
	uint64_t timer1_seen_base; /* tov_base when the run loop last looked */
	/* Timer1 compare A/B: cycle the flag was last raised, whether the handler is running,
	 * and the longest time from a flag to an OCR1x write by its own handler */
	uint64_t comp_raised_at[2];
	uint8_t comp_running[2];
	uint32_t comp_latency_max[2];
	/* cycles from the compare B match to the PINB read of its handler (the sample) */
	uint32_t sample_late_min, sample_late_max;
	/* the input-capture handler is running; the least time it left from its OCR1B write
	 * to that compare (the first sample of the frame), in cycles, and how many frames it
	 * left none (the compare was already past: the frame's samples come a timer period late) */
	uint8_t capt_running;
	int32_t capt_margin_min;
	uint32_t capt_missed;
	avr_io_read_t pinb_read; /* simavr's own PINB read handler, wrapped */
	void *pinb_read_param;
	void (*prev_reset)(avr_t *);
} nsim_t;

static void trace_rec(nsim_t *s, uint16_t what, uint16_t value);

/*
 * avr_register_io_write() aborts the process when a fifth register needs its write
 * "muxer" (simavr keeps 4 shared slots). Register only when that cannot happen.
 */
static int register_io_write(avr_t *avr, avr_io_addr_t addr, avr_io_write_t w, void *param)
{
	avr_io_addr_t a = AVR_DATA_TO_IO(addr);
	int taken = avr->io[a].w.c != NULL;
	int shared_full = avr->io_shared_io_count >= (int)(sizeof avr->io_shared_io / sizeof avr->io_shared_io[0]);
	if (taken && shared_full && avr->io[a].w.param != param) {
		fprintf(stderr, "nanoesp-sim: cannot hook register 0x%02x (simavr's shared slots are used up)\n", addr);
		return -1;
	}
	avr_register_io_write(avr, addr, w, param);
	return 0;
}

/* ---- USART0 ---------------------------------------------------------------- */

static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	nsim_t *s = param;
	if (s->out_len == OUT_CAP) {
		s->out_dropped++;
		return;
	}
	uint32_t at = (s->out_head + s->out_len) % OUT_CAP;
	s->out_buf[at].cycle = s->avr->cycle;
	s->out_buf[at].byte = (uint8_t)value;
	s->out_len++;
	s->stop_early = 1;
}

static void on_uart_xon(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq; (void)value;
	((nsim_t *)param)->xon = 1;
}

static void on_uart_xoff(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq; (void)value;
	((nsim_t *)param)->xon = 0;
}

/* Number of bytes waiting in simavr's USART0 RX FIFO (not yet read by the firmware). */
int nsim_uart_rx_pending(nsim_t *s)
{
	if (!s->uart0) return 0;
	return (int)uart_fifo_get_read_size(&s->uart0->input);
}

/*
 * simavr 1.6 computes the byte period once, when UBRRnL is written, always counting a
 * parity bit. Recompute it from the registers as they are now so 8N1 takes 10 bit times
 * whatever order the firmware wrote U2X0/UCSR0C/UBRR0 in.
 */
static void fix_uart_timing(nsim_t *s)
{
	avr_uart_t *p = s->uart0;
	if (!p) return;
	avr_t *avr = s->avr;
	uint32_t ubrr = avr_regbit_get(avr, p->ubrrl) | (avr_regbit_get(avr, p->ubrrh) << 8);
	static const int databits[] = { 5, 6, 7, 8, 8, 8, 8, 9 };
	int db = databits[avr_regbit_get(avr, p->ucsz) | (avr_regbit_get(avr, p->ucsz2) << 2)];
	int parity = (avr->data[p->r_ucsrc] >> 4) & 3; /* UPM01:0 */
	int sb = 1 + avr_regbit_get(avr, p->usbs);
	int bits = 1 + db + (parity ? 1 : 0) + sb;
	uint32_t cpb = (ubrr + 1) * 8 * (avr_regbit_get(avr, p->u2x) ? 1 : 2);
	p->cycles_per_byte = (avr_cycle_count_t)cpb * bits;
}

/* Current USART0 bit period in cycles (from UBRR0/U2X0 as the firmware set them). */
uint32_t nsim_uart_cycles_per_bit(nsim_t *s)
{
	avr_uart_t *p = s->uart0;
	if (!p) return 0;
	uint32_t ubrr = avr_regbit_get(s->avr, p->ubrrl) | (avr_regbit_get(s->avr, p->ubrrh) << 8);
	return (ubrr + 1) * 8 * (avr_regbit_get(s->avr, p->u2x) ? 1 : 2);
}

int nsim_uart_enabled(nsim_t *s)
{
	if (!s->uart0) return 0;
	return avr_regbit_get(s->avr, s->uart0->rxen) ? 1 : 0;
}

void nsim_uart_set_flow_control(nsim_t *s, int on) { s->flow_control = on; }

/* Queue bytes for USART0 RX. Returns how many were accepted. */
uint32_t nsim_uart_push(nsim_t *s, const uint8_t *data, uint32_t len)
{
	uint32_t n = 0;
	while (n < len && s->in_len < IN_CAP) {
		s->in_buf[(s->in_head + s->in_len) % IN_CAP] = data[n++];
		s->in_len++;
	}
	return n;
}

uint32_t nsim_uart_in_queued(nsim_t *s) { return s->in_len; }

/*
 * Hand one byte straight to the USART0 receiver, bypassing the queue. Used for the ESP
 * link, where the sender does not wait: returns 0 if the receiver is off or its FIFO is
 * full (the byte is lost, as an overrun would lose it on hardware).
 */
int nsim_uart_inject(nsim_t *s, uint8_t byte)
{
	if (!s->uart0 || !avr_regbit_get(s->avr, s->uart0->rxen)) return 0;
	if (uart_fifo_isfull(&s->uart0->input)) return 0;
	avr_raise_irq(s->uart0->io.irq + UART_IRQ_INPUT, byte);
	return 1;
}

static void feed_uart(nsim_t *s)
{
	while (s->in_len && s->xon && s->uart0 && avr_regbit_get(s->avr, s->uart0->rxen)) {
		uint8_t b = s->in_buf[s->in_head];
		s->in_head = (s->in_head + 1) % IN_CAP;
		s->in_len--;
		avr_raise_irq(s->uart0->io.irq + UART_IRQ_INPUT, b);
	}
}

/* Collect bytes the firmware wrote to UDR0, with the cycle each was written. */
uint32_t nsim_uart_pop(nsim_t *s, uint8_t *bytes, uint64_t *cycles, uint32_t max)
{
	uint32_t n = 0;
	while (n < max && s->out_len) {
		bytes[n] = s->out_buf[s->out_head].byte;
		cycles[n] = s->out_buf[s->out_head].cycle;
		s->out_head = (s->out_head + 1) % OUT_CAP;
		s->out_len--;
		n++;
	}
	return n;
}

uint32_t nsim_uart_cycles_per_byte(nsim_t *s)
{
	return s->uart0 ? (uint32_t)s->uart0->cycles_per_byte : 0;
}

/* ---- pins ------------------------------------------------------------------- */

static void on_pin(struct avr_irq_t *irq, uint32_t value, void *param)
{
	nsim_t *s = param;
	int id = -1;
	for (int i = 0; i < s->n_watch; i++)
		if (irq == avr_io_getirq(s->avr, AVR_IOCTL_IOPORT_GETIRQ(s->watch[i].port), s->watch[i].bit))
			id = s->watch[i].id;
	if (id < 0) return;
	if (s->edge_len == EDGE_CAP) {
		s->edges_dropped++;
		return;
	}
	uint32_t at = (s->edge_head + s->edge_len) % EDGE_CAP;
	s->edges[at].cycle = s->avr->cycle;
	s->edges[at].pin = (uint8_t)id;
	/* compare-match toggles arrive with AVR_IOPORT_OUTPUT (0x100) or'ed in */
	s->edges[at].level = (value & 0xff) ? 1 : 0;
	s->edge_len++;
	s->stop_early = 1;
}

/* Record every level change of pin `bit` of `port` ('B','C','D') under `id`. */
int nsim_pin_watch(nsim_t *s, char port, int bit, int id)
{
	if (s->n_watch == MAX_WATCH) return -1;
	avr_irq_t *irq = avr_io_getirq(s->avr, AVR_IOCTL_IOPORT_GETIRQ(port), bit);
	if (!irq) return -1;
	s->watch[s->n_watch].port = port;
	s->watch[s->n_watch].bit = (uint8_t)bit;
	s->watch[s->n_watch].id = (uint8_t)id;
	s->n_watch++;
	avr_irq_register_notify(irq, on_pin, s);
	return 0;
}

uint32_t nsim_pin_edges(nsim_t *s, uint64_t *cycles, uint8_t *pins, uint8_t *levels, uint32_t max)
{
	uint32_t n = 0;
	while (n < max && s->edge_len) {
		nsim_edge_t *e = &s->edges[s->edge_head];
		cycles[n] = e->cycle;
		pins[n] = e->pin;
		levels[n] = e->level;
		s->edge_head = (s->edge_head + 1) % EDGE_CAP;
		s->edge_len--;
		n++;
	}
	return n;
}

/* Current electrical level of a pin as simavr sees it (its IRQ value). */
int nsim_pin_level(nsim_t *s, char port, int bit)
{
	avr_irq_t *irq = avr_io_getirq(s->avr, AVR_IOCTL_IOPORT_GETIRQ(port), bit);
	return irq ? ((irq->value & 0xff) ? 1 : 0) : -1;
}

static void apply_external(nsim_t *s, char port)
{
	avr_ioport_external_t e = {
		.name = port, .mask = s->ext_mask[port - 'A'], .value = s->ext_value[port - 'A'],
	};
	avr_ioctl(s->avr, AVR_IOCTL_IOPORT_SET_EXTERNAL(port), &e);
}

/*
 * Drive an input pin from outside. The level is also registered as the port's
 * "external" value: otherwise simavr re-raises the pull-up level on every PORTx write
 * (avr_ioport_update_irqs), and a firmware writing PORTB during a start bit would see
 * its RX line jump high. Edges reach PCINT and, on PB0, Timer1's input capture, because
 * simavr chains the pin IRQ to the ICP IRQ.
 */
void nsim_pin_drive(nsim_t *s, char port, int bit, int level)
{
	int i = port - 'A';
	if (i < 0 || i >= 8) return;
	s->ext_mask[i] |= (uint8_t)(1 << bit);
	if (level) s->ext_value[i] |= (uint8_t)(1 << bit);
	else s->ext_value[i] &= (uint8_t)~(1 << bit);
	apply_external(s, port);
	avr_irq_t *irq = avr_io_getirq(s->avr, AVR_IOCTL_IOPORT_GETIRQ(port), bit);
	if (irq) avr_raise_irq(irq, level ? 1 : 0);
}

/* ---- Timer1 force output compare -------------------------------------------------- */

#define TCCR1A_ADDR 0x80
#define TCCR1C_ADDR 0x82
#define TIMSK1_ADDR 0x6F
#define TIFR1_ADDR 0x36
#define PORTB_ADDR 0x25

/*
 * simavr 1.6 ignores FOC1A/FOC1B (TCCR1C). Do what the datasheet says (16.11.3): apply the
 * compare-output action of COM1x now, without setting a flag. Toggle mimics simavr's own
 * compare toggle (it flips PORTBn through AVR_IOPORT_OUTPUT).
 */
static void on_tccr1c_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param)
{
	trace_rec((nsim_t *)param, addr, v);
	avr->data[addr] = v & 0x3f; /* FOC bits always read as zero */
	uint8_t tccr1a = avr->data[TCCR1A_ADDR];
	for (int c = 0; c < 2; c++) {
		if (!(v & (0x80 >> c))) continue;
		uint8_t mode = (tccr1a >> (6 - 2 * c)) & 3;
		avr_irq_t *irq = avr_io_getirq(avr, AVR_IOCTL_TIMER_GETIRQ('1'), TIMER_IRQ_OUT_COMP + c);
		if (!irq) continue;
		switch (mode) {
		case 1: {
			int level = (avr->data[PORTB_ADDR] >> (1 + c)) & 1;
			avr_raise_irq(irq, AVR_IOPORT_OUTPUT | (level ? 0 : 1));
		}	break;
		case 2: avr_raise_irq(irq, 0); break;
		case 3: avr_raise_irq(irq, 1); break;
		default: break;
		}
	}
}

#define DDRB_ADDR 0x24
#define PINB_ADDR 0x23

static void trace_rec(nsim_t *s, uint16_t what, uint16_t value)
{
	if (!s->tracing) return;
	uint32_t at = (s->trace_head + s->trace_len) % 256;
	if (s->trace_len == 256) s->trace_head = (s->trace_head + 1) % 256;
	else s->trace_len++;
	s->trace[at].cycle = s->avr->cycle;
	s->trace[at].what = what;
	s->trace[at].value = value;
}

/* Timer1's interrupt vectors: input capture, compare A, compare B, overflow. */
#define TIMER1_VECTORS 4
static void timer1_vectors(avr_timer_t *p, avr_int_vector_t *out[TIMER1_VECTORS])
{
	out[0] = &p->icr;
	out[1] = &p->comp[0].interrupt;
	out[2] = &p->comp[1].interrupt;
	out[3] = &p->overflow;
}

/*
 * TIMSK1 has no simavr handler: ours replaces the plain store, so it does it. simavr raises
 * a Timer1 flag whose interrupt is disabled in TIFR1 only, and never runs that interrupt
 * once it is enabled; the chip does run it (a set flag and its enable bit are all an
 * interrupt needs). So enabling an interrupt whose flag is set makes it pending here too.
 */
static void on_timsk1_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param)
{
	nsim_t *s = param;
	avr->data[addr] = v;
	if (s->tracing) trace_rec(s, addr, v);
	if (!s->timer1) return;
	avr_int_vector_t *vectors[TIMER1_VECTORS];
	timer1_vectors(s->timer1, vectors);
	for (int i = 0; i < TIMER1_VECTORS; i++) {
		avr_int_vector_t *vector = vectors[i];
		if (vector->raised.reg && avr_regbit_get(avr, vector->raised) &&
				avr_regbit_get(avr, vector->enable) && !vector->pending)
			avr_raise_interrupt(avr, vector);
	}
}

/*
 * simavr 1.6's TIFR1 handler clears every pending Timer1 flag on any write. The chip clears
 * exactly the flags written as 1 (datasheet 16.11.9): do that instead (replaces simavr's
 * handler, which nothing else shares).
 */
static void on_tifr1_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param)
{
	nsim_t *s = param;
	avr_int_vector_t *vectors[TIMER1_VECTORS];
	timer1_vectors(s->timer1, vectors);
	for (int i = 0; i < TIMER1_VECTORS; i++) {
		avr_int_vector_t *vector = vectors[i];
		if (vector->raised.reg != addr || !(v & (1 << vector->raised.bit))) continue;
		avr_clear_interrupt(avr, vector);
		avr_regbit_clear(avr, vector->raised);
	}
}

/*
 * Diagnostics: from now on record writes to TCCR1C, OCR1A, OCR1B, TIMSK1, PORTB and DDRB,
 * and every OC1x output event (what = 0x100 + n). (TCCR1A would need a fifth shared
 * write slot, which simavr does not have.)
 */
void nsim_trace_enable(nsim_t *s)
{
	s->tracing = 1;
}

uint32_t nsim_trace_pop(nsim_t *s, uint64_t *cycles, uint16_t *what, uint16_t *values, uint32_t max)
{
	uint32_t n = 0;
	while (n < max && s->trace_len) {
		cycles[n] = s->trace[s->trace_head].cycle;
		what[n] = s->trace[s->trace_head].what;
		values[n] = s->trace[s->trace_head].value;
		s->trace_head = (s->trace_head + 1) % 256;
		s->trace_len--;
		n++;
	}
	return n;
}

static void on_oc1_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
	nsim_t *s = param;
	int c = irq->irq - TIMER_IRQ_OUT_COMP;
	if (c >= 0 && c < 2) {
		uint8_t level = (value & 0xff) ? 1 : 0;
		if (level != s->oc1_latch[c]) {
			s->oc1_before[c] = s->oc1_latch[c];
			s->oc1_changed_at[c] = s->avr->cycle;
		}
		s->oc1_latch[c] = level;
		trace_rec(s, 0x100 + c, value);
	}
}

/*
 * Runs after simavr's own PORTB/DDRB write handler, which re-drives every output pin of
 * port B from PORTB. On hardware a pin whose COM1x bits are non-zero shows the OC1x latch
 * instead, so put that level back (same cycle: a peer sampling the line never sees the
 * PORTBn value).
 */
static void after_portb_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param)
{
	nsim_t *s = param;
	trace_rec(s, addr, v);
	uint8_t tccr1a = avr->data[TCCR1A_ADDR];
	for (int c = 0; c < 2; c++) {
		uint8_t mode = (tccr1a >> (6 - 2 * c)) & 3;
		int bit = 1 + c;
		if (mode == 0 || !(avr->data[DDRB_ADDR] & (1 << bit))) continue;
		avr_irq_t *pin = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), bit);
		if (pin) avr_raise_irq(pin, s->oc1_latch[c]);
	}
}

/*
 * simavr 1.6 arms a compare for the new Timer1 period inside its overflow handler only if
 * `comp_cycles >= cycle - when`: the handler runs after the instruction that crossed the
 * overflow (1-4 cycles late), so OCR1x values of 0..3 (clk/1) are skipped and match one
 * period (4.1 ms) later. Hardware matches them. When a new period started and a compare
 * was skipped that way, do what simavr's avr_timer_comp() does, a few cycles late.
 */
static void catch_skipped_compares(nsim_t *s)
{
	avr_timer_t *p = s->timer1;
	avr_t *avr = s->avr;
	if (!p || p->tov_base == s->timer1_seen_base) return;
	uint64_t previous = s->timer1_seen_base;
	s->timer1_seen_base = p->tov_base;
	/* only a real overflow (not a TCNT1 write or a reconfiguration) starts a period */
	if (!p->tov_cycles || p->tov_base != previous + p->tov_cycles) return;
	if (p->wgm_op_mode_kind != avr_timer_wgm_normal) return;
	for (int c = 0; c < 2; c++) {
		uint64_t cc = p->comp[c].comp_cycles;
		if (!cc || cc >= p->tov_cycles) continue;
		/*
		 * The overflow handler also applied the PWM-only "opposite level at TOV" action
		 * (avr_timer_comp_on_tov) in normal mode; hardware leaves OC1x alone. Undo it.
		 */
		uint8_t mode = avr_regbit_get(avr, p->comp[c].com);
		if ((mode == avr_timer_com_clear || mode == avr_timer_com_set) &&
				s->oc1_changed_at[c] == avr->cycle &&
				s->oc1_latch[c] == (mode == avr_timer_com_clear ? 1 : 0)) {
			avr_raise_irq(&p->io.irq[TIMER_IRQ_OUT_COMP + c], s->oc1_before[c]);
			trace_rec(s, 0x120 + c, s->oc1_before[c]);
		}
		if (avr->cycle < p->tov_base || cc >= avr->cycle - p->tov_base) continue; /* armed by simavr */
		avr_raise_interrupt(avr, &p->comp[c].interrupt);
		avr_irq_t *irq = &p->io.irq[TIMER_IRQ_OUT_COMP + c];
		switch (avr_regbit_get(avr, p->comp[c].com)) {
		case avr_timer_com_toggle:
			avr_raise_irq(irq, AVR_IOPORT_OUTPUT | (avr_regbit_get(avr, p->comp[c].com_pin) ? 0 : 1));
			break;
		case avr_timer_com_clear: avr_raise_irq(irq, 0); break;
		case avr_timer_com_set: avr_raise_irq(irq, 1); break;
		default: break;
		}
		trace_rec(s, 0x110 + c, (uint16_t)cc);
	}
}

/*
 * Runs after simavr's OCR1xL handler. In normal and CTC modes simavr reconfigures the timer
 * on every OCR1A/OCR1B write and, doing so, applies the PWM-only "opposite level" action to
 * each compare still ahead (avr_timer_comp_on_tov): COM1x = clear drives the pin high,
 * set drives it low. Hardware never changes OC1x on an OCR write: put the level back. No
 * genuine compare can fire inside a register write, so a latch change at this very cycle
 * in that direction came from the reconfiguration.
 */
static void after_ocr1_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param)
{
	(void)v;
	nsim_t *s = param;
	avr_timer_t *p = s->timer1;
	trace_rec(s, addr, avr->data[addr] | (avr->data[addr + 1] << 8));
	int own = addr == 0x88 ? 0 : 1;
	if (own == 1 && s->capt_running && p) {
		/* Timer1 runs at clk/1 in normal mode: TCNT1 is the cycles since its last overflow */
		uint16_t tcnt = (uint16_t)(avr->cycle - p->tov_base);
		uint16_t ocr = avr->data[0x8A] | (avr->data[0x8B] << 8);
		int32_t margin = (int16_t)(uint16_t)(ocr - tcnt);
		if (margin < s->capt_margin_min) s->capt_margin_min = margin;
		if (margin <= 0) s->capt_missed++;
	}
	if (s->comp_running[own]) {
		uint64_t late = avr->cycle - s->comp_raised_at[own];
		if (late > s->comp_latency_max[own]) s->comp_latency_max[own] = (uint32_t)late;
	}
	if (!p) return;
	for (int c = 0; c < 2; c++) {
		uint8_t mode = avr_regbit_get(avr, p->comp[c].com);
		if ((mode == avr_timer_com_clear || mode == avr_timer_com_set) &&
				s->oc1_changed_at[c] == avr->cycle && s->oc1_write_guard[c] != avr->cycle &&
				s->oc1_latch[c] == (mode == avr_timer_com_clear ? 1 : 0)) {
			s->oc1_write_guard[c] = avr->cycle;
			avr_raise_irq(&p->io.irq[TIMER_IRQ_OUT_COMP + c], s->oc1_before[c]);
			trace_rec(s, 0x130 + c, s->oc1_before[c]);
		}
	}
}

/*
 * How late the soft UART's compare handlers are: a compare handler that moves its OCR1x on
 * by one bit must do so before the timer gets there, i.e. less than one bit time after the
 * match that raised it. The flag's cycle is the match (within the 1-4 cycles simavr is late
 * after an overflow); the write is the handler's last register access of that bit.
 */
static void on_comp_pending(struct avr_irq_t *irq, uint32_t value, void *param)
{
	nsim_t *s = param;
	for (int c = 0; c < 2; c++)
		if (irq == &s->timer1->comp[c].interrupt.irq[AVR_INT_IRQ_PENDING] && value)
			s->comp_raised_at[c] = s->avr->cycle;
}

static void on_capt_running(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	((nsim_t *)param)->capt_running = value ? 1 : 0;
}

static void on_comp_running(struct avr_irq_t *irq, uint32_t value, void *param)
{
	nsim_t *s = param;
	for (int c = 0; c < 2; c++)
		if (irq == &s->timer1->comp[c].interrupt.irq[AVR_INT_IRQ_RUNNING])
			s->comp_running[c] = value ? 1 : 0;
}

/* The receive handler samples D8 with its first PINB read: when, after its match. */
static uint8_t on_pinb_read(avr_t *avr, avr_io_addr_t addr, void *param)
{
	nsim_t *s = param;
	if (s->comp_running[1]) {
		uint32_t late = (uint32_t)(avr->cycle - s->comp_raised_at[1]);
		if (late < s->sample_late_min) s->sample_late_min = late;
		if (late > s->sample_late_max) s->sample_late_max = late;
	}
	return s->pinb_read ? s->pinb_read(avr, addr, s->pinb_read_param) : avr->data[addr];
}

/* Since the last call, in cycles: the longest flag-to-OCR1A (tx) and flag-to-OCR1B (rx)
 * write by the compare handlers, the earliest and latest flag-to-PINB read of the
 * receive handler (0, 0 if none), the least time the capture handler left before the
 * first sample it set (0 if none) and how many first samples it set too late; starts over. */
void nsim_timer1_latency_take(nsim_t *s, uint32_t *tx, uint32_t *rx, uint32_t *sample_min,
		uint32_t *sample_max, int32_t *start_margin_min, uint32_t *starts_missed)
{
	*start_margin_min = s->capt_margin_min == INT32_MAX ? 0 : s->capt_margin_min;
	*starts_missed = s->capt_missed;
	s->capt_margin_min = INT32_MAX;
	s->capt_missed = 0;
	*tx = s->comp_latency_max[0];
	*rx = s->comp_latency_max[1];
	int sampled = s->sample_late_max != 0;
	*sample_min = sampled ? s->sample_late_min : 0;
	*sample_max = s->sample_late_max;
	s->comp_latency_max[0] = s->comp_latency_max[1] = 0;
	s->sample_late_min = UINT32_MAX;
	s->sample_late_max = 0;
}

/* ---- ADC ---------------------------------------------------------------------- */

void nsim_adc_set_mv(nsim_t *s, int channel, uint32_t millivolts)
{
	if (channel < 0 || channel > 7) return;
	avr_irq_t *irq = avr_io_getirq(s->avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + channel);
	if (irq) avr_raise_irq(irq, millivolts);
}

/* ---- memory --------------------------------------------------------------------- */

uint8_t nsim_data_read(nsim_t *s, uint16_t addr) { return addr <= s->avr->ramend ? s->avr->data[addr] : 0; }

void nsim_data_write(nsim_t *s, uint16_t addr, uint8_t v)
{
	if (addr <= s->avr->ramend) s->avr->data[addr] = v;
}

uint32_t nsim_flash_size(nsim_t *s) { return s->avr->flashend + 1; }

void nsim_flash_write(nsim_t *s, uint32_t addr, const uint8_t *data, uint32_t len)
{
	uint32_t size = s->avr->flashend + 1;
	for (uint32_t i = 0; i < len && addr + i < size; i++)
		s->avr->flash[addr + i] = data[i];
	if (addr + len > s->avr->codeend) s->avr->codeend = addr + len;
}

void nsim_flash_read(nsim_t *s, uint8_t *out, uint32_t len)
{
	uint32_t size = s->avr->flashend + 1;
	memcpy(out, s->avr->flash, len < size ? len : size);
}

/* Load an ELF's flash image with simavr's loader. Returns 0 on success. */
int nsim_load_elf(nsim_t *s, const char *path)
{
	elf_firmware_t fw;
	memset(&fw, 0, sizeof fw);
	/* Debian's loader prints "Loaded ..." on stdout, our machine-readable channel */
	fflush(stdout);
	int saved = dup(1);
	dup2(2, 1);
	int rc = elf_read_firmware(path, &fw);
	if (rc != 0) rc = -1;
	else if (!fw.flash || fw.flashsize == 0) rc = -2;
	else if (fw.flashbase + fw.flashsize > s->avr->flashend + 1) rc = -3;
	uint32_t freq = s->avr->frequency;
	if (rc == 0) avr_load_firmware(s->avr, &fw);
	fflush(stdout);
	if (saved >= 0) {
		dup2(saved, 1);
		close(saved);
	}
	if (rc != 0) return rc;
	s->avr->frequency = freq; /* the bench is a 16 MHz Nano whatever the ELF says */
	return 0;
}

/* ---- core, resets, running ---------------------------------------------------------- */

static void on_core_reset(avr_t *avr)
{
	/* also runs for watchdog resets; simavr has dropped every cycle timer by now */
	nsim_t *s = avr->custom.data;
	if (!s) return;
	s->resets++;
	s->oc1_latch[0] = s->oc1_latch[1] = 0;
	s->comp_running[0] = s->comp_running[1] = 0; /* a reset inside a handler ends it */
	s->capt_running = 0;
	if (s->prev_reset) s->prev_reset(avr);
}

static void no_sleep(avr_t *avr, avr_cycle_count_t how_long)
{
	(void)avr; (void)how_long; /* Rust throttles to wall time itself */
}

static void connect_uart(nsim_t *s)
{
	uint32_t flags = 0;
	avr_ioctl(s->avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
	/* no stdout echo; no usleep(1) on every UCSR0A poll */
	flags &= ~(AVR_UART_FLAG_STDIO | AVR_UART_FLAG_POLL_SLEEP);
	avr_ioctl(s->avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
	avr_irq_register_notify(avr_io_getirq(s->avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out, s);
	avr_irq_register_notify(avr_io_getirq(s->avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), on_uart_xon, s);
	avr_irq_register_notify(avr_io_getirq(s->avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), on_uart_xoff, s);
}

/* simavr's default logger prints loader chatter ("Loaded 264 .text ...") on stdout,
 * which is our machine-readable channel: keep only warnings and errors, on stderr. */
static void quiet_logger(avr_t *avr, const int level, const char *format, va_list ap)
{
	(void)avr;
	if (level <= LOG_WARNING) {
		fputs("nanoesp-sim: simavr: ", stderr);
		vfprintf(stderr, format, ap);
	}
}

nsim_t *nsim_new(uint32_t frequency)
{
	avr_global_logger_set(quiet_logger);
	avr_t *avr = avr_make_mcu_by_name("atmega328p");
	if (!avr) return NULL;
	if (avr_init(avr) != 0) return NULL;
	nsim_t *s = calloc(1, sizeof *s);
	if (!s) return NULL;
	s->avr = avr;
	s->flow_control = 1;
	avr->frequency = frequency;
	avr->vcc = avr->avcc = avr->aref = 5000;
	avr->log = 0;
	avr->custom.data = s;
	s->prev_reset = avr->reset;
	avr->reset = on_core_reset;
	avr->sleep = no_sleep;
	memset(avr->flash, 0xff, avr->flashend + 1);
	for (avr_io_t *io = avr->io_port; io; io = io->next) {
		if (io->kind && strcmp(io->kind, "uart") == 0 && ((avr_uart_t *)io)->name == '0')
			s->uart0 = (avr_uart_t *)io;
		if (io->kind && strcmp(io->kind, "timer") == 0 && ((avr_timer_t *)io)->name == '1')
			s->timer1 = (avr_timer_t *)io;
	}
	connect_uart(s);
	register_io_write(avr, TCCR1C_ADDR, on_tccr1c_write, s);
	register_io_write(avr, TIMSK1_ADDR, on_timsk1_write, s);
	if (s->timer1 && avr->io[AVR_DATA_TO_IO(TIFR1_ADDR)].w.param == s->timer1) {
		avr->io[AVR_DATA_TO_IO(TIFR1_ADDR)].w.c = on_tifr1_write;
		avr->io[AVR_DATA_TO_IO(TIFR1_ADDR)].w.param = s;
	}
	for (int c = 0; c < 2; c++)
		avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_TIMER_GETIRQ('1'), TIMER_IRQ_OUT_COMP + c),
				on_oc1_out, s);
	/* registered after simavr's ioport handlers, so the muxer calls them first */
	register_io_write(avr, PORTB_ADDR, after_portb_write, s);
	register_io_write(avr, DDRB_ADDR, after_portb_write, s);
	/* these use simavr's last two shared write slots */
	register_io_write(avr, 0x88, after_ocr1_write, s);
	register_io_write(avr, 0x8A, after_ocr1_write, s);
	if (s->timer1)
		for (int c = 0; c < 2; c++) {
			avr_int_vector_t *v = &s->timer1->comp[c].interrupt;
			avr_irq_register_notify(&v->irq[AVR_INT_IRQ_PENDING], on_comp_pending, s);
			avr_irq_register_notify(&v->irq[AVR_INT_IRQ_RUNNING], on_comp_running, s);
		}
	if (s->timer1)
		avr_irq_register_notify(&s->timer1->icr.irq[AVR_INT_IRQ_RUNNING], on_capt_running, s);
	/* read handlers cannot be shared: wrap the ioport's own one for PINB */
	s->pinb_read = avr->io[AVR_DATA_TO_IO(PINB_ADDR)].r.c;
	s->pinb_read_param = avr->io[AVR_DATA_TO_IO(PINB_ADDR)].r.param;
	avr->io[AVR_DATA_TO_IO(PINB_ADDR)].r.c = on_pinb_read;
	avr->io[AVR_DATA_TO_IO(PINB_ADDR)].r.param = s;
	s->sample_late_min = UINT32_MAX;
	s->capt_margin_min = INT32_MAX;
	return s;
}

void nsim_free(nsim_t *s)
{
	if (!s) return;
	avr_terminate(s->avr);
	free(s);
}

void nsim_set_reset_pc(nsim_t *s, uint32_t pc) { s->avr->reset_pc = pc; }

/* Reset as the RESET pin does: core reset, start at reset_pc, MCUSR = flags. */
void nsim_reset(nsim_t *s, uint8_t mcusr)
{
	avr_reset(s->avr);
	s->avr->data[MCUSR_ADDR] = mcusr;
	s->xon = 0;
	s->in_len = 0;
}

uint32_t nsim_resets(nsim_t *s) { return s->resets; }
uint64_t nsim_cycle(nsim_t *s) { return s->avr->cycle; }
int nsim_state(nsim_t *s) { return s->avr->state; }
uint32_t nsim_pc(nsim_t *s) { return s->avr->pc; }

static avr_cycle_count_t until_timer(avr_t *avr, avr_cycle_count_t when, void *param)
{
	(void)avr; (void)when;
	((nsim_t *)param)->until_armed = 0;
	return 0;
}

/*
 * Run until the cycle counter reaches `until` (it may end a few cycles later: simavr
 * finishes the current instruction), or earlier, right after the firmware wrote UDR0 or
 * changed a watched pin, so the caller can forward it at the right time. A cycle timer at `until` keeps a sleeping core from
 * jumping past it. Returns the core state (cpu_Running, cpu_Sleeping, cpu_Done,
 * cpu_Crashed, ...).
 */
int nsim_run(nsim_t *s, uint64_t until)
{
	avr_t *avr = s->avr;
	fix_uart_timing(s);
	uint32_t resets = s->resets;
	if (avr->cycle < until) {
		avr_cycle_timer_register(avr, until - avr->cycle, until_timer, s);
		s->until_armed = 1;
	}
	s->stop_early = 0;
	while (avr->cycle < until && !s->stop_early) {
		if (s->in_len && s->xon) feed_uart(s);
		if (avr->state != cpu_Running && avr->state != cpu_Sleeping) break;
		avr_run(avr);
		if (s->timer1 && s->timer1->tov_base != s->timer1_seen_base) catch_skipped_compares(s);
		if (s->resets != resets) {
			/* a watchdog reset dropped our timer: re-arm it */
			resets = s->resets;
			fix_uart_timing(s);
			if (avr->cycle < until)
				avr_cycle_timer_register(avr, until - avr->cycle, until_timer, s);
		}
	}
	avr_cycle_timer_cancel(avr, until_timer, s);
	if (s->in_len && s->xon) feed_uart(s);
	return avr->state;
}
