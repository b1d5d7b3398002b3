"""What a flow needs to run: its memory and CPU, sized before it starts."""
